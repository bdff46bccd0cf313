package dev.arica.quantize;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.CheckpointWriter;
import dev.arica.formats.Converter;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaEntry;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.arica.ColumnOrder;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.hf.HfCheckpointWriter;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.CastPipeline;
import dev.arica.formats.io.ChunkPipeline;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns an .arica file back into a safetensors file or an HF directory that any tool reads: quantized
 * tensors are dequantized chunk by chunk on worker threads (a permuted one's columns put back in order), float
 * tensors copied (bit for bit) or cast;
 * the config and the embedded files (tokenizer, generation config) are restored beside the tensors.
 */
public final class AricaDequantizer {
    private static final long CHUNK_F32_BYTES = 4L << 20;

    private AricaDequantizer() {}

    /** The tensors of the output: each entry's logical dtype, or {@code dtype} for float ones when given. */
    public static List<TensorInfo> outputTensors(AricaFile in, DType dtype) {
        List<TensorInfo> out = new ArrayList<>();
        for (AricaEntry e : in.entries()) {
            out.add(Converter.targetInfo(e.info(), dtype));
        }
        return out;
    }

    public static Converter.Result convert(AricaFile in, Path out, Converter.Options options, Progress progress)
            throws IOException {
        AtomicOutput.refuseOverInput(out, in.path(), List.of());
        List<TensorInfo> infos = outputTensors(in, options.dtype());
        Map<String, String> metadata = new LinkedHashMap<>();
        metadata.put("format", "pt");
        in.index().path("user").properties().forEach(p -> metadata.put(p.getKey(), p.getValue().asText()));
        metadata.put("arica.dequantized_from", in.path().getFileName().toString());
        long total = infos.stream().mapToLong(TensorInfo::byteSize).sum();
        boolean single = Converter.isSingleFile(out);
        int shards = 1;
        CheckpointWriter writer;
        if (single) {
            writer = SafetensorsWriter.create(out, infos, metadata);
        } else {
            ObjectNode config = in.config().orElse(null);
            if (config != null && options.dtype() != null) {
                config.put("torch_dtype", Converter.torchName(options.dtype()));
            }
            HfCheckpointWriter w = HfCheckpointWriter.create(out, infos, metadata, config, in.auxFiles(),
                    options.maxShardSize(), options.replace());
            shards = w.shardCount();
            writer = w;
        }
        long buffer = Math.max(CastPipeline.BUFFER_BYTES, 2 * CHUNK_F32_BYTES);
        for (AricaEntry e : in.entries()) {
            if (e.storage() instanceof Storage.Quantized q) {
                long cols = cols(e);
                // A transposed weight is turned back whole: the stored rows are the target's columns.
                buffer = Math.max(buffer, q.transposed() ? 3 * e.info().elements() * 4 : 3 * rowsPerChunk(cols) * cols * 4);
            }
        }
        progress.start("dequantize", total);
        try (writer; ChunkPipeline pipeline = new ChunkPipeline(writer::write, progress, buffer,
                        ChunkPipeline.defaultThreads())) {
            for (int i = 0; i < infos.size(); i++) {
                AricaEntry e = in.entries().get(i);
                TensorInfo target = infos.get(i);
                // A compressed blob is one zstd frame, decompressed whole and freed once the tensor is written.
                Arena decompressed = e.compressed() ? Arena.ofShared() : null;
                MemorySegment raw = in.checked(e, decompressed);
                pipeline.then(() -> writer.begin(e.name()));
                switch (e.storage()) {
                    case Storage.Plain p -> queuePlain(pipeline, e, p.dtype(), raw, target);
                    case Storage.Quantized q when q.transposed() -> queueTransposed(pipeline, q, e, raw, target);
                    case Storage.Quantized q -> queueQuantized(pipeline, q.layout(), e, raw, target,
                            in.columnOrder(e, raw).orElse(null));
                }
                if (decompressed != null) {
                    pipeline.then(decompressed::close);
                }
            }
            pipeline.drain();
            writer.commit();
        } finally {
            progress.finish();
        }
        return new Converter.Result(out, !single, infos.size(), total, shards);
    }

    private static long cols(AricaEntry e) {
        return e.shape().length == 0 ? 1 : e.shape()[e.shape().length - 1];
    }

    /** A Conv1D weight stored as its transpose [out, in]: dequantized whole, then written back as [in, out]. */
    private static void queueTransposed(ChunkPipeline pipeline, Storage.Quantized storage, AricaEntry e, MemorySegment raw,
            TensorInfo target) throws IOException {
        Quantizer q = Quantizer.of(storage.layout());
        long in = e.shape()[0], out = e.shape()[1];
        DType to = target.dtype();
        FloatCast.check(e.name(), DType.F32, to);
        pipeline.submit(buffer -> {
            MemorySegment stored = buffer.asSlice(0, in * out * 4);
            q.dequantizeRows(raw, stored, in, 0, out);
            MemorySegment f32 = buffer.asSlice(in * out * 4, in * out * 4);
            for (long r = 0; r < out; r++) {
                for (long c = 0; c < in; c++) {
                    f32.setAtIndex(FloatCast.F32_LE, c * out + r, stored.getAtIndex(FloatCast.F32_LE, r * in + c));
                }
            }
            if (to == DType.F32) {
                return f32;
            }
            MemorySegment cast = buffer.asSlice(2 * in * out * 4, to.bytesFor(in * out));
            FloatCast.cast(DType.F32, f32, to, cast, in * out);
            return cast;
        }, raw, to.bytesFor(in * out));
    }

    private static long rowsPerChunk(long cols) {
        return Math.max(1, CHUNK_F32_BYTES / (Math.max(1, cols) * 4));
    }

    private static void queuePlain(ChunkPipeline pipeline, AricaEntry e,
            DType stored, MemorySegment raw, TensorInfo target) throws IOException {
        Tensor src = Tensor.of(e.info().withDtype(stored), raw);
        if (target.dtype() == stored) {
            pipeline.copy(raw);
        } else {
            FloatCast.check(e.name(), stored, target.dtype());
            CastPipeline.queueCast(pipeline, src, target.dtype());
        }
    }

    /** Rows dequantized chunk by chunk; a permuted tensor's columns put back in their logical order ({@code order}). */
    private static void queueQuantized(ChunkPipeline pipeline, QuantLayout layout, AricaEntry e, MemorySegment raw,
            TensorInfo target, ColumnOrder order) throws IOException {
        Quantizer q = Quantizer.of(layout);
        long cols = cols(e);
        long rows = cols == 0 ? 0 : e.info().elements() / cols;
        long perChunk = rowsPerChunk(cols);
        DType to = target.dtype();
        FloatCast.check(e.name(), DType.F32, to);
        long rowBytes = layout.rowBytes(cols);
        for (long r0 = 0; r0 < rows; r0 += perChunk) {
            long n = Math.min(perChunk, rows - r0);
            MemorySegment stored = raw.asSlice(r0 * rowBytes, n * rowBytes);
            pipeline.submit(buffer -> {
                MemorySegment f32 = buffer.asSlice(0, n * cols * 4);
                q.dequantizeRows(stored, f32, cols, 0, n);
                if (order != null) {
                    MemorySegment logical = buffer.asSlice(n * cols * 4, n * cols * 4);
                    order.unpermute(f32, logical, n);
                    f32 = logical;
                }
                if (to == DType.F32) {
                    return f32;
                }
                MemorySegment out = buffer.asSlice(2 * n * cols * 4, to.bytesFor(n * cols));
                FloatCast.cast(DType.F32, f32, to, out, n * cols);
                return out;
            }, stored, to.bytesFor(n * cols));
        }
    }
}
