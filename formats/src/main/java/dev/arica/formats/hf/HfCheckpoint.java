package dev.arica.formats.hf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.io.Json;
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
 * A Hugging Face checkpoint directory: {@code config.json} with {@code model.safetensors}, or shards
 * listed by {@code model.safetensors.index.json}. Shard names from the index may not leave the directory.
 */
public final class HfCheckpoint implements Checkpoint {

    public static final String CONFIG = "config.json";
    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private final Path dir;
    private final ObjectNode config;
    private final List<SafetensorsFile> shards;
    private final Map<String, SafetensorsFile> owner;
    private final List<TensorInfo> tensors;
    private final Map<String, String> metadata;
    private final ObjectNode indexMetadata;
    private final List<AuxFile> aux;

    private HfCheckpoint(Path dir, ObjectNode config, List<SafetensorsFile> shards, Map<String, SafetensorsFile> owner,
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
        Path index = dir.resolve(INDEX);
        Path single = dir.resolve(SINGLE);
        List<SafetensorsFile> shards = new ArrayList<>();
        try {
            if (Files.isRegularFile(index)) {
                return openSharded(dir, config, index, shards);
            }
            if (Files.isRegularFile(single)) {
                SafetensorsFile f = SafetensorsFile.open(single);
                shards.add(f);
                Map<String, SafetensorsFile> owner = new HashMap<>();
                for (TensorInfo t : f.tensors()) {
                    owner.put(t.name(), f);
                }
                return new HfCheckpoint(dir, config, shards, owner, f.tensors(), null, auxFiles(dir, Set.of(SINGLE)));
            }
        } catch (IOException | RuntimeException e) {
            shards.forEach(SafetensorsFile::close);
            throw e;
        }
        throw new FormatException(dir, "no " + SINGLE + " or " + INDEX + " in this directory");
    }

    private static HfCheckpoint openSharded(Path dir, ObjectNode config, Path index, List<SafetensorsFile> shards)
            throws IOException {
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
        Map<String, SafetensorsFile> byShard = new LinkedHashMap<>();
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
                SafetensorsFile f = SafetensorsFile.open(p);
                shards.add(f);
                byShard.put(shard, f);
            }
        }
        Map<String, SafetensorsFile> owner = new HashMap<>();
        List<TensorInfo> tensors = new ArrayList<>();
        for (Map.Entry<String, String> e : wanted.entrySet()) {
            SafetensorsFile f = byShard.get(e.getValue());
            if (f.info(e.getKey()).isEmpty()) {
                throw new FormatException(index, e.getKey(), "listed in weight_map but missing from shard '"
                        + e.getValue() + "'");
            }
        }
        // Storage order: shards by file name (model-00001-of-N first), not by weight_map's name order.
        List<Map.Entry<String, SafetensorsFile>> inOrder = new ArrayList<>(byShard.entrySet());
        inOrder.sort(Map.Entry.comparingByKey());
        shards.clear();
        inOrder.forEach(s -> shards.add(s.getValue()));
        for (Map.Entry<String, SafetensorsFile> s : inOrder) {
            for (TensorInfo t : s.getValue().tensors()) {
                String listed = wanted.get(t.name());
                if (listed == null) {
                    throw new FormatException(s.getValue().path(), t.name(), "is in the shard but not in "
                            + INDEX + "'s weight_map");
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
        skip.add(INDEX);
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
    public Tensor tensor(String name) {
        SafetensorsFile f = owner.get(name);
        if (f == null) {
            throw new IllegalArgumentException("no tensor named '" + name + "' in " + dir);
        }
        return f.tensor(name);
    }

    @Override
    public Optional<FileRange> location(String name) {
        SafetensorsFile f = owner.get(name);
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
        return shards.stream().map(SafetensorsFile::path).toList();
    }

    @Override
    public void close() {
        for (SafetensorsFile f : shards) {
            f.close();
        }
    }
}
