package dev.arica.formats.hf;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.CheckpointWriter;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.formats.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Writes an HF checkpoint directory: config.json, the tensors in {@code model.safetensors} or in shards of
 * at most {@code maxShardSize} bytes with their index, and the auxiliary files unchanged. The directory
 * is assembled under a temporary name and renamed onto the destination on commit.
 */
public final class HfCheckpointWriter implements CheckpointWriter {

    /** Hugging Face's default shard size, "5GB". */
    public static final long DEFAULT_MAX_SHARD_SIZE = 5_000_000_000L;

    private final AtomicOutput out;
    private final List<List<TensorInfo>> plan;
    private final Map<String, String> metadata;
    private final Map<String, Integer> shardOf = new java.util.HashMap<>();
    private SafetensorsWriter shard;
    private int shardIndex = -1;

    private HfCheckpointWriter(AtomicOutput out, List<List<TensorInfo>> plan, Map<String, String> metadata) {
        this.out = out;
        this.plan = plan;
        this.metadata = metadata;
        for (int i = 0; i < plan.size(); i++) {
            for (TensorInfo t : plan.get(i)) {
                shardOf.put(t.name(), i);
            }
        }
    }

    /**
     * @param config written as config.json when not null
     * @param replace whether an existing non-empty destination directory may be replaced
     */
    public static HfCheckpointWriter create(Path destination, List<TensorInfo> tensors, Map<String, String> metadata,
            ObjectNode config, List<AuxFile> aux, long maxShardSize, boolean replace) throws IOException {
        if (maxShardSize < 1) {
            throw new IllegalArgumentException("max shard size must be positive");
        }
        AtomicOutput out = AtomicOutput.directory(destination, replace);
        try {
            for (AuxFile a : aux) {
                if (!a.name().equals(HfCheckpoint.CONFIG)) {
                    a.writeInto(out.temp());
                }
            }
            if (config != null) {
                AtomicOutput.write(out.temp().resolve(HfCheckpoint.CONFIG),
                        (Json.MAPPER.writeValueAsString(config) + "\n").getBytes(StandardCharsets.UTF_8));
            }
            HfCheckpointWriter w = new HfCheckpointWriter(out, planShards(tensors, maxShardSize), metadata);
            long side = 0;
            try (Stream<Path> s = Files.list(out.temp())) {
                for (Path p : s.toList()) {
                    side += Files.size(p);
                }
            }
            long shards = w.plan.stream().mapToLong(p -> SafetensorsWriter.fileSize(p, metadata)).sum();
            out.expect(side + shards + (w.plan.size() > 1 ? w.index().length : 0));
            return w;
        } catch (IOException | RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /** Splits tensors, in order, into shards of at most {@code max} bytes (a larger tensor gets its own). */
    public static List<List<TensorInfo>> planShards(List<TensorInfo> tensors, long max) {
        List<List<TensorInfo>> shards = new ArrayList<>();
        List<TensorInfo> cur = new ArrayList<>();
        long size = 0;
        for (TensorInfo t : tensors) {
            if (!cur.isEmpty() && size + t.byteSize() > max) {
                shards.add(cur);
                cur = new ArrayList<>();
                size = 0;
            }
            cur.add(t);
            size += t.byteSize();
        }
        if (!cur.isEmpty() || shards.isEmpty()) {
            shards.add(cur);
        }
        return shards;
    }

    /** The file name of shard {@code i} (0-based) of {@code n}, as Hugging Face names them. */
    public static String shardName(int i, int n) {
        return n == 1 ? HfCheckpoint.SINGLE : String.format("model-%05d-of-%05d.safetensors", i + 1, n);
    }

    public int shardCount() {
        return plan.size();
    }

    @Override
    public void begin(String name) throws IOException {
        Integer s = shardOf.get(name);
        if (s == null) {
            throw new IllegalStateException("tensor " + name + " was not declared");
        }
        if (s != shardIndex) {
            openShard(s);
        }
        shard.begin(name);
    }

    private void openShard(int s) throws IOException {
        if (s != shardIndex + 1) {
            throw new IllegalStateException("shard " + s + " opened out of order");
        }
        if (shard != null) {
            shard.commit();
            shard.close();
        }
        shardIndex = s;
        shard = SafetensorsWriter.createUnmanaged(out.temp().resolve(shardName(s, plan.size())), plan.get(s), metadata);
    }

    @Override
    public void write(MemorySegment bytes) throws IOException {
        if (shard == null) {
            throw new IllegalStateException("write before begin");
        }
        shard.write(bytes);
    }

    @Override
    public void transfer(FileChannel source, long position, long count) throws IOException {
        if (shard == null) {
            throw new IllegalStateException("transfer before begin");
        }
        shard.transfer(source, position, count);
    }

    @Override
    public void commit() throws IOException {
        while (shardIndex < plan.size() - 1) {
            // Shards that hold no tensor (an empty checkpoint) are still written.
            openShard(shardIndex + 1);
        }
        shard.commit();
        shard.close();
        if (plan.size() > 1) {
            writeIndex();
        }
        out.commit();
    }

    private void writeIndex() throws IOException {
        AtomicOutput.write(out.temp().resolve(HfCheckpoint.INDEX), index());
    }

    private byte[] index() throws IOException {
        ObjectNode root = Json.MAPPER.createObjectNode();
        long total = 0;
        Map<String, String> weightMap = new TreeMap<>();
        for (int i = 0; i < plan.size(); i++) {
            for (TensorInfo t : plan.get(i)) {
                total += t.byteSize();
                weightMap.put(t.name(), shardName(i, plan.size()));
            }
        }
        root.putObject("metadata").put("total_size", total);
        ObjectNode wm = root.putObject("weight_map");
        weightMap.forEach(wm::put);
        return (Json.MAPPER.writeValueAsString(root) + "\n").getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public void close() throws IOException {
        try {
            if (shard != null) {
                shard.close();
            }
        } finally {
            out.close();
        }
    }
}
