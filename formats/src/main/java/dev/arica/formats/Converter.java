package dev.arica.formats;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.hf.HfCheckpointWriter;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.CastPipeline;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Rewrites a checkpoint as a safetensors file or an HF directory, casting floating-point tensors when
 * asked. Tensors stream through one at a time: same-type tensors go from the input mapping straight to
 * the output channel, cast tensors through a small off-heap buffer.
 */
public final class Converter {

    /**
     * @param dtype target type of floating-point tensors, or null to keep every type
     * @param maxShardSize largest shard of an HF directory output
     * @param replace whether an existing output directory may be replaced
     */
    public record Options(DType dtype, long maxShardSize, boolean replace) {
        public static Options defaults() {
            return new Options(null, HfCheckpointWriter.DEFAULT_MAX_SHARD_SIZE, false);
        }
    }

    /** What was written. */
    public record Result(Path output, boolean directory, int tensors, long bytes, int shards) {}

    private Converter() {}

    /** True when {@code out} names a single-file output rather than a directory. */
    public static boolean isSingleFile(Path out) {
        return out.getFileName().toString().toLowerCase(java.util.Locale.ROOT).endsWith(".safetensors");
    }

    public static Result convert(Checkpoint in, Path out, Options options, Progress progress) throws IOException {
        AtomicOutput.refuseOverInput(out, in.path(), in.dataFiles());
        List<TensorInfo> outInfos = new ArrayList<>();
        for (TensorInfo t : in.tensors()) {
            outInfos.add(targetInfo(t, options.dtype()));
        }
        Map<String, String> metadata = new LinkedHashMap<>(in.metadata());
        metadata.putIfAbsent("format", "pt");
        long total = 0;
        for (TensorInfo t : outInfos) {
            total += t.byteSize();
        }
        boolean single = isSingleFile(out);
        int shards = 1;
        CheckpointWriter writer;
        if (single) {
            writer = SafetensorsWriter.create(out, outInfos, metadata);
        } else {
            ObjectNode config = in.config().map(ObjectNode::deepCopy).orElse(null);
            if (config != null && options.dtype() != null) {
                config.put("torch_dtype", torchName(options.dtype()));
            }
            HfCheckpointWriter w = HfCheckpointWriter.create(out, outInfos, metadata, config, in.auxFiles(),
                    options.maxShardSize(), options.replace());
            shards = w.shardCount();
            writer = w;
        }
        progress.start("convert", total);
        try (writer; CastPipeline pipeline = new CastPipeline(writer, progress)) {
            for (int i = 0; i < outInfos.size(); i++) {
                // A computed tensor's memory is freed once it is written (a mapped one needs none).
                Arena memory = Arena.ofShared();
                Tensor src = in.tensor(in.tensors().get(i).name(), memory);
                TensorInfo dst = outInfos.get(i);
                FileRange location = in.location(src.name()).orElse(null);
                if (dst.dtype() == src.info().dtype()) {
                    pipeline.copy(src, location);
                } else {
                    pipeline.cast(src, dst.dtype(), location);
                }
                pipeline.then(memory::close);
            }
            pipeline.drain();
            writer.commit();
        } finally {
            progress.finish();
        }
        return new Result(out, !single, outInfos.size(), total, shards);
    }

    /** The output description of {@code t}: its floating-point type replaced by {@code dtype} when given. */
    public static TensorInfo targetInfo(TensorInfo t, DType dtype) {
        if (dtype == null || !t.dtype().isFloat() || t.dtype() == dtype) {
            return t;
        }
        FloatCast.check(t.name(), t.dtype(), dtype);
        return t.withDtype(dtype);
    }

    /** PyTorch's name of a dtype, as config.json's torch_dtype holds it. */
    public static String torchName(DType t) {
        return switch (t) {
            case F32 -> "float32";
            case F16 -> "float16";
            case BF16 -> "bfloat16";
            case F64 -> "float64";
            default -> t.name().toLowerCase(java.util.Locale.ROOT);
        };
    }
}
