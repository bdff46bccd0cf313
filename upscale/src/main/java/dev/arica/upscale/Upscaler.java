package dev.arica.upscale;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaEntry;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.arica.AricaWriter;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.hf.HfCheckpointWriter;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.io.Json;
import dev.arica.formats.io.SourceChannels;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.ToLongFunction;

/**
 * Depth up-scaling and layer surgery: writes a model whose decoder layers are copies of ranges of the
 * input's ({@link LayerMap}), the other tensors (embeddings, final norm, head) once, the config updated and
 * the side files carried over. HF directories give HF directories, .arica files .arica files, tensors
 * copied as stored (quantized ones too) file to file, so memory does not grow with the model.
 */
public final class Upscaler {
    /** safetensors {@code __metadata__} key: the source layer of each output layer, a JSON array. */
    public static final String META_LAYER_MAP = "arica.upscale.layer_map";
    /** safetensors {@code __metadata__} key: the ranges, as {@code 0:24,8:32}. */
    public static final String META_SLICES = "arica.upscale.slices";
    /** safetensors {@code __metadata__} key: the input's layer count. */
    public static final String META_SOURCE_LAYERS = "arica.upscale.source_layers";
    /** Key of the object recording the up-scaling in an .arica file's provenance. */
    public static final String PROVENANCE_KEY = "upscale";

    /**
     * @param maxShardSize largest shard of an HF output; 0: the input's largest shard, or 5GB when it has one
     * @param replace whether an existing output may be replaced
     * @param aricaVersion recorded in an .arica output's provenance
     * @param commandLine recorded in an .arica output's provenance
     */
    public record Options(long maxShardSize, boolean replace, String aricaVersion, String commandLine) {
        public Options {
            if (maxShardSize < 0) {
                throw new IllegalArgumentException("max shard size must not be negative");
            }
        }

        public static Options defaults() {
            return new Options(0, false, "unknown", "");
        }
    }

    /** What an input holds. */
    public enum Kind { HF_DIRECTORY, ARICA, CONFIG }

    /**
     * What an up-scaling gives: the map, and the parameters and bytes before and after.
     *
     * @param tensors tensors of the output; 0 when estimated
     * @param layersKey the config.json key of the layer count (num_hidden_layers, GPT-2's n_layer)
     * @param configKeys config.json keys re-indexed besides the layer count
     * @param estimated true when computed from config.json alone ({@link ConfigEstimate})
     * @param dtype the config's dtype when estimated, else null
     */
    public record Plan(Path input, Kind kind, LayerMap map, String layersKey, List<String> configKeys, int tensors,
            long sourceParameters,
            long parameters, long sourceBytes, long bytes, boolean estimated, String dtype) {
        public Plan {
            configKeys = List.copyOf(configKeys);
        }
    }

    /** What was written. */
    public record Result(Plan plan, Path output, int shards) {}

    /** The plan with everything needed to write it. */
    private record Prepared(Plan plan, List<LayerStack.Copy> copies, ObjectNode config) {}

    private Upscaler() {}

    /** What {@code input} holds: an HF directory with weights, an .arica file, or only a config.json. */
    public static Kind kind(Path input) throws IOException {
        if (!Files.exists(input)) {
            throw new NoSuchFileException(input.toString());
        }
        if (Files.isDirectory(input)) {
            if (Files.isRegularFile(input.resolve(HfCheckpoint.SINGLE)) || Files.isRegularFile(input.resolve(HfCheckpoint.INDEX))) {
                return Kind.HF_DIRECTORY;
            }
            if (Files.isRegularFile(input.resolve(HfCheckpoint.CONFIG))) {
                return Kind.CONFIG;
            }
            throw new FormatException(input, "holds neither weights (" + HfCheckpoint.SINGLE + ", " + HfCheckpoint.INDEX
                    + ") nor " + HfCheckpoint.CONFIG);
        }
        if (AricaFile.looksLikeArica(input)) {
            return Kind.ARICA;
        }
        if (input.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json")) {
            return Kind.CONFIG;
        }
        throw new FormatException(input, "is not an HF directory, an .arica file or a config.json: upscale reads those "
                + "(write other checkpoints as an HF directory with 'arica convert' first)");
    }

    /** The layer map, counts and sizes of up-scaling {@code input}, without writing anything. */
    public static Plan plan(Path input, LayerSpec spec) throws IOException {
        return switch (kind(input)) {
            case CONFIG -> planFromConfig(input, spec);
            case HF_DIRECTORY -> {
                try (HfCheckpoint in = HfCheckpoint.open(input)) {
                    yield prepare(in, spec).plan();
                }
            }
            case ARICA -> {
                try (AricaFile in = AricaFile.open(input)) {
                    yield prepare(in, spec).plan();
                }
            }
        };
    }

    /** Writes the up-scaled model to {@code output}: an HF directory for an HF input, an .arica file for one. */
    public static Result upscale(Path input, Path output, LayerSpec spec, Options options, Progress progress)
            throws IOException {
        Kind kind = kind(input);
        AtomicOutput.refuseOverInput(output, input, List.of());
        return switch (kind) {
            case CONFIG -> throw new FormatException(input, "holds a config but no weights: only a dry run works "
                    + "from config.json alone");
            case HF_DIRECTORY -> {
                try (HfCheckpoint in = HfCheckpoint.open(input)) {
                    yield writeHf(in, prepare(in, spec), output, options, progress);
                }
            }
            case ARICA -> {
                if (Files.exists(output) && !options.replace()) {
                    throw new FileAlreadyExistsException(output.toString(), null, "already exists (use --force to replace it)");
                }
                try (AricaFile in = AricaFile.open(input)) {
                    yield writeArica(in, prepare(in, spec), output, options, progress);
                }
            }
        };
    }

    private static Plan planFromConfig(Path input, LayerSpec spec) throws IOException {
        Path file = Files.isDirectory(input) ? input.resolve(HfCheckpoint.CONFIG) : input;
        ObjectNode config = Json.readObjectFile(file);
        int n = LayerConfig.sourceLayers(file, config);
        LayerMap map = spec.resolve(n);
        List<String> keys = LayerConfig.perLayerKeys(file, LayerConfig.explicit(file, config), n);
        ConfigEstimate e = ConfigEstimate.of(file, config);
        return new Plan(input, Kind.CONFIG, map, LayerConfig.layersKey(file, config), keys, 0, e.parameters(n),
                e.parameters(map.layers()), e.bytes(n),
                e.bytes(map.layers()), true, e.dtype());
    }

    private static Prepared prepare(HfCheckpoint in, LayerSpec spec) throws IOException {
        Path configFile = in.path().resolve(HfCheckpoint.CONFIG);
        ObjectNode config = in.config().orElseThrow(() -> new FormatException(configFile,
                "is missing: upscale needs the model's config (num_hidden_layers)"));
        Map<String, TensorInfo> infos = new HashMap<>();
        in.tensors().forEach(t -> infos.put(t.name(), t));
        return prepare(in.path(), Kind.HF_DIRECTORY, configFile, config, in.tensors().stream().map(TensorInfo::name).toList(),
                name -> infos.get(name).elements(), name -> infos.get(name).byteSize(), spec);
    }

    private static Prepared prepare(AricaFile in, LayerSpec spec) throws IOException {
        ObjectNode config = in.config().orElseThrow(() -> new FormatException(in.path(),
                "holds no config: upscale needs the model's config (num_hidden_layers)"));
        return prepare(in.path(), Kind.ARICA, in.path(), config, in.entries().stream().map(AricaEntry::name).toList(),
                name -> in.entry(name).orElseThrow().info().elements(), name -> in.entry(name).orElseThrow().length(), spec);
    }

    private static Prepared prepare(Path input, Kind kind, Path configFile, ObjectNode config, List<String> names,
            ToLongFunction<String> elements, ToLongFunction<String> bytes, LayerSpec spec) throws IOException {
        int n = LayerConfig.sourceLayers(configFile, config);
        LayerMap map = spec.resolve(n);
        LayerStack stack = LayerStack.of(input, names, n);
        List<LayerStack.Copy> copies = stack.copies(names, map);
        ObjectNode upscaled = LayerConfig.upscaled(configFile, config, map);
        long sourceParameters = 0, sourceBytes = 0, parameters = 0, outBytes = 0;
        for (String name : names) {
            sourceParameters += elements.applyAsLong(name);
            sourceBytes += bytes.applyAsLong(name);
        }
        for (LayerStack.Copy c : copies) {
            parameters += elements.applyAsLong(c.source());
            outBytes += bytes.applyAsLong(c.source());
        }
        Plan plan = new Plan(input, kind, map, LayerConfig.layersKey(configFile, config),
                LayerConfig.perLayerKeys(configFile, LayerConfig.explicit(configFile, config), n), copies.size(),
                sourceParameters, parameters, sourceBytes, outBytes, false, null);
        return new Prepared(plan, copies, upscaled);
    }

    private static Result writeHf(HfCheckpoint in, Prepared p, Path output, Options options, Progress progress)
            throws IOException {
        Map<String, TensorInfo> infos = new HashMap<>();
        in.tensors().forEach(t -> infos.put(t.name(), t));
        List<TensorInfo> outInfos = new ArrayList<>();
        for (LayerStack.Copy c : p.copies()) {
            outInfos.add(infos.get(c.source()).withName(c.target()));
        }
        Map<String, String> metadata = new LinkedHashMap<>(in.metadata());
        metadata.putIfAbsent("format", "pt");
        LayerMap map = p.plan().map();
        metadata.put(META_SOURCE_LAYERS, Integer.toString(map.sourceLayers()));
        metadata.put(META_SLICES, map.slicesText());
        metadata.put(META_LAYER_MAP, map.sourcesJson());
        long maxShard = options.maxShardSize() > 0 ? options.maxShardSize() : largestShard(in);
        int shards;
        progress.start("upscale", p.plan().bytes());
        try (HfCheckpointWriter w = HfCheckpointWriter.create(output, outInfos, metadata, p.config(), in.auxFiles(),
                maxShard, options.replace()); SourceChannels files = new SourceChannels()) {
            for (LayerStack.Copy c : p.copies()) {
                w.begin(c.target());
                Optional<FileRange> at = in.location(c.source());
                if (at.isPresent()) {
                    w.transfer(files.of(at.get().file()), at.get().offset(), at.get().length());
                } else {
                    for (MemorySegment part : in.tensor(c.source()).parts()) {
                        w.write(part);
                    }
                }
                progress.advance(infos.get(c.source()).byteSize());
            }
            w.commit();
            shards = w.shardCount();
        } finally {
            progress.finish();
        }
        return new Result(p.plan(), output, shards);
    }

    /** Tensor bytes of the input's largest shard; HF's 5GB when it is one file. */
    private static long largestShard(HfCheckpoint in) {
        if (in.shardCount() <= 1) {
            return HfCheckpointWriter.DEFAULT_MAX_SHARD_SIZE;
        }
        Map<Path, Long> perFile = new HashMap<>();
        for (TensorInfo t : in.tensors()) {
            in.location(t.name()).ifPresent(r -> perFile.merge(r.file(), r.length(), Long::sum));
        }
        return Math.max(1, perFile.values().stream().mapToLong(Long::longValue).max().orElse(1));
    }

    private static Result writeArica(AricaFile in, Prepared p, Path output, Options options, Progress progress)
            throws IOException {
        Map<String, String> user = new LinkedHashMap<>();
        in.index().path("user").properties().forEach(e -> user.put(e.getKey(), e.getValue().asText()));
        progress.start("upscale", p.plan().bytes());
        try (AricaWriter w = AricaWriter.create(output)) {
            for (LayerStack.Copy c : p.copies()) {
                AricaEntry e = in.entry(c.source()).orElseThrow();
                w.copy(in, e, c.target());
                progress.advance(e.length());
            }
            for (AuxFile f : in.auxFiles()) {
                w.addFile(f.name(), f.bytes());
            }
            w.commit(p.config(), provenance(in, p.plan(), options), user);
        } finally {
            progress.finish();
        }
        return new Result(p.plan(), output, 1);
    }

    /** The input's provenance, with an {@value #PROVENANCE_KEY} object recording this run and the layer map. */
    private static ObjectNode provenance(AricaFile in, Plan plan, Options options) throws IOException {
        JsonNode old = in.index().get("provenance");
        ObjectNode p = old instanceof ObjectNode o ? o.deepCopy() : Json.MAPPER.createObjectNode();
        ObjectNode u = p.putObject(PROVENANCE_KEY);
        u.put("arica_version", options.aricaVersion());
        u.put("created", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        u.put("command_line", options.commandLine());
        u.put("source_file", in.path().getFileName().toString());
        u.put("source_bytes", Files.size(in.path()));
        u.put("source_layers", plan.map().sourceLayers());
        u.put("layers", plan.map().layers());
        ArrayNode slices = u.putArray("slices");
        plan.map().slices().forEach(s -> slices.add(s.toString()));
        ArrayNode layerMap = u.putArray("layer_map");
        for (int s : plan.map().sources()) {
            layerMap.add(s);
        }
        ArrayNode keys = u.putArray("config_keys_reindexed");
        plan.configKeys().forEach(keys::add);
        return p;
    }
}
