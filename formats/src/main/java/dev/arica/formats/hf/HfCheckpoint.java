package dev.arica.formats.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorIndex;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.io.Json;
import dev.arica.formats.pytorch.PyTorchCheckpoint;
import dev.arica.formats.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * A Hugging Face checkpoint directory: {@code config.json} with {@code model.safetensors}, or shards listed by
 * {@code model.safetensors.index.json}; failing those, the same with PyTorch files ({@code pytorch_model.bin},
 * {@code pytorch_model.bin.index.json}), as transformers prefers them. Shard names from the index may not leave
 * the directory.
 */
public final class HfCheckpoint implements Checkpoint {

    public static final String CONFIG = "config.json";
    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";
    public static final String PYTORCH_SINGLE = "pytorch_model.bin";
    public static final String PYTORCH_INDEX = "pytorch_model.bin.index.json";

    /** The two ways a directory holds its weights: one file, or shards listed by an index. */
    private enum Weights {
        SAFETENSORS(SINGLE, INDEX),
        PYTORCH(PYTORCH_SINGLE, PYTORCH_INDEX);

        final String single;
        final String index;

        Weights(String single, String index) {
            this.single = single;
            this.index = index;
        }

        Checkpoint open(Path file) throws IOException {
            return this == SAFETENSORS ? SafetensorsFile.open(file) : PyTorchCheckpoint.open(file);
        }
    }

    private final Path dir;
    private final ObjectNode config;
    private final List<Checkpoint> shards;
    private final Map<String, Checkpoint> owner;
    private final List<TensorInfo> tensors;
    private final Map<String, String> metadata;
    private final ObjectNode indexMetadata;
    private final List<AuxFile> aux;

    private HfCheckpoint(Path dir, ObjectNode config, List<Checkpoint> shards, Map<String, Checkpoint> owner,
            List<TensorInfo> tensors, ObjectNode indexMetadata, List<AuxFile> aux) {
        this.dir = dir;
        this.config = config;
        this.shards = shards;
        this.owner = owner;
        this.tensors = tensors;
        this.metadata = shards.isEmpty() ? Map.of() : shards.getFirst().metadata();
        this.indexMetadata = indexMetadata;
        this.aux = aux;
    }

    public static HfCheckpoint open(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new NoSuchFileException(dir.toString(), null, "not a directory");
        }
        Path configFile = dir.resolve(CONFIG);
        ObjectNode config = Files.isRegularFile(configFile) ? Json.readObjectFile(configFile) : null;
        List<Checkpoint> shards = new ArrayList<>();
        try {
            for (Weights w : Weights.values()) {
                Path index = dir.resolve(w.index);
                Path single = dir.resolve(w.single);
                if (Files.isRegularFile(index)) {
                    return openSharded(dir, config, index, w, shards);
                }
                if (Files.isRegularFile(single)) {
                    Checkpoint f = w.open(single);
                    shards.add(f);
                    Map<String, Checkpoint> owner = new HashMap<>();
                    for (TensorInfo t : f.tensors()) {
                        owner.put(t.name(), f);
                    }
                    return new HfCheckpoint(dir, config, shards, owner, f.tensors(), null, auxFiles(dir, Set.of(w.single)));
                }
            }
        } catch (IOException | RuntimeException e) {
            shards.forEach(Checkpoint::close);
            throw e;
        }
        throw new FormatException(dir, "no " + SINGLE + ", " + INDEX + ", " + PYTORCH_SINGLE + " or " + PYTORCH_INDEX
                + " in this directory");
    }

    private static HfCheckpoint openSharded(Path dir, ObjectNode config, Path index, Weights weights,
            List<Checkpoint> shards) throws IOException {
        ObjectNode idx = Json.readObjectFile(index);
        JsonNode wm = idx.get("weight_map");
        if (wm == null || !wm.isObject()) {
            throw new FormatException(index, "has no \"weight_map\" object");
        }
        JsonNode meta = idx.get("metadata");
        if (meta != null && !meta.isObject()) {
            throw new FormatException(index, "\"metadata\" is not an object");
        }
        Path root = dir.toAbsolutePath().normalize();
        Map<String, Checkpoint> byShard = new LinkedHashMap<>();
        Map<String, String> wanted = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : wm.properties()) {
            if (!e.getValue().isTextual()) {
                throw new FormatException(index, e.getKey(), "weight_map value is not a file name");
            }
            String shard = e.getValue().textValue();
            checkShardName(index, e.getKey(), root, shard);
            wanted.put(e.getKey(), shard);
            if (!byShard.containsKey(shard)) {
                Path p = root.resolve(shard);
                if (!Files.isRegularFile(p)) {
                    throw new FormatException(index, e.getKey(), "shard '" + shard + "' does not exist");
                }
                Checkpoint f = weights.open(p);
                shards.add(f);
                byShard.put(shard, f);
            }
        }
        Map<String, Checkpoint> owner = new HashMap<>();
        List<TensorInfo> tensors = new ArrayList<>();
        Map<Checkpoint, Set<String>> names = new HashMap<>();
        for (Checkpoint f : byShard.values()) {
            names.put(f, f.tensors().stream().map(TensorInfo::name).collect(java.util.stream.Collectors.toSet()));
        }
        for (Map.Entry<String, String> e : wanted.entrySet()) {
            Checkpoint f = byShard.get(e.getValue());
            if (!names.get(f).contains(e.getKey())) {
                throw new FormatException(index, e.getKey(), "listed in weight_map but missing from shard '"
                        + e.getValue() + "'");
            }
        }
        // Storage order: shards by file name (model-00001-of-N first), not by weight_map's name order.
        List<Map.Entry<String, Checkpoint>> inOrder = new ArrayList<>(byShard.entrySet());
        inOrder.sort(Map.Entry.comparingByKey());
        shards.clear();
        inOrder.forEach(s -> shards.add(s.getValue()));
        for (Map.Entry<String, Checkpoint> s : inOrder) {
            for (TensorInfo t : s.getValue().tensors()) {
                String listed = wanted.get(t.name());
                if (listed == null) {
                    throw new FormatException(s.getValue().path(), t.name(), "is in the shard but not in "
                            + weights.index + "'s weight_map");
                }
                if (!listed.equals(s.getKey())) {
                    throw new FormatException(s.getValue().path(), t.name(), "is also stored in this shard, but "
                            + "weight_map assigns it to '" + listed + "'");
                }
                owner.put(t.name(), s.getValue());
                tensors.add(t);
            }
        }
        Set<String> skip = new java.util.HashSet<String>(byShard.keySet());
        skip.add(weights.index);
        return new HfCheckpoint(dir, config, shards, owner, Collections.unmodifiableList(tensors),
                meta == null ? null : (ObjectNode) meta, auxFiles(dir, skip));
    }

    private static void checkShardName(Path index, String tensor, Path root, String shard) throws FormatException {
        Path p;
        try {
            p = Path.of(shard);
        } catch (java.nio.file.InvalidPathException ex) {
            throw new FormatException(index, tensor, "shard name '" + shard + "' is not a valid path");
        }
        boolean escapes = p.isAbsolute() || shard.startsWith("/") || shard.startsWith("\\") || shard.contains("..")
                || !root.resolve(p).normalize().startsWith(root);
        if (escapes || shard.isEmpty()) {
            throw new FormatException(index, tensor, "shard name '" + shard + "' escapes the checkpoint directory");
        }
    }

    private static List<AuxFile> auxFiles(Path dir, Set<String> tensorFiles) throws IOException {
        List<AuxFile> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                String name = p.getFileName().toString();
                if (Files.isRegularFile(p) && !tensorFiles.contains(name) && !name.equals(CONFIG)
                        && !name.contains(dev.arica.formats.io.AtomicOutput.TEMP_MARK)) {
                    out.add(AuxFile.copyOf(name, p));
                }
            }
        }
        return Collections.unmodifiableList(out);
    }

    @Override
    public String format() {
        return "hf-directory";
    }

    @Override
    public Path path() {
        return dir;
    }

    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    @Override
    public Tensor tensor(String name) throws IOException {
        Checkpoint f = owner.get(name);
        if (f == null) {
            throw TensorIndex.noTensor(name, dir);
        }
        return f.tensor(name);
    }

    @Override
    public Optional<FileRange> location(String name) {
        Checkpoint f = owner.get(name);
        return f == null ? Optional.empty() : f.location(name);
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The index's {@code metadata} object (e.g. total_size), when sharded. */
    public Optional<ObjectNode> indexMetadata() {
        return Optional.ofNullable(indexMetadata);
    }

    public int shardCount() {
        return shards.size();
    }

    @Override
    public Optional<ObjectNode> config() {
        return Optional.ofNullable(config);
    }

    @Override
    public List<AuxFile> auxFiles() {
        return aux;
    }

    @Override
    public List<Path> dataFiles() {
        return shards.stream().map(Checkpoint::path).toList();
    }

    @Override
    public void close() {
        for (Checkpoint f : shards) {
            f.close();
        }
    }
}
