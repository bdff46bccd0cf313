package dev.arica.quantize;

import static dev.arica.quantize.CheckpointQuantizer.align;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.QuantizedCheckpoint;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.gguf.GgmlType;
import dev.arica.formats.gguf.GgufKeyValues;
import dev.arica.formats.gguf.GgufKeys;
import dev.arica.formats.gguf.GgufLlamaModel;
import dev.arica.formats.gguf.GgufTypeRule;
import dev.arica.formats.gguf.GgufVocabulary;
import dev.arica.formats.gguf.GgufWriter;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.ChunkPipeline;
import dev.arica.formats.io.MappedMemory;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.quant.QuantLayout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Writes a Llama or Mistral checkpoint (an HF directory, a llama2.c file, an .arica or GGUF file) as a GGUF file llama.cpp
 * runs, in one streaming pass: each tensor's rows are read from their mapping in GGUF's order (query and key rows
 * moved to GGML's rotary pair order), then copied, cast, quantized with arica's GGML-exact Q8_0/Q4_0 quantizers, or,
 * for the Q8_0/Q4_0 tensors an .arica or GGUF file stores ({@link QuantizedCheckpoint}), written as stored, block
 * for block. Each tensor's type follows
 * llama.cpp's rules for the requested type ({@link GgufTypeRule}); the metadata holds the architecture's
 * hyper-parameters ({@link GgufLlamaModel}) and the tokenizer ({@link GgufVocabulary}). Memory is a fixed set of chunk
 * buffers whatever the model's size.
 */
public final class GgufExporter {
    /** float32 bytes of source rows per chunk, as {@link CheckpointQuantizer} reads them. */
    private static final long CHUNK_F32_BYTES = CheckpointQuantizer.CHUNK_F32_BYTES;

    /**
     * @param type the requested type (f32, f16, q8_0 or q4_0); null for {@link #defaultType}
     * @param threads worker threads
     */
    public record Options(GgmlType type, int threads) {
        public Options {
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1, got " + threads);
            }
        }

        public static Options of(GgmlType type) {
            return new Options(type, ChunkPipeline.defaultThreads());
        }
    }

    /** How a tensor's bytes are made. */
    public enum How {
        /** Copied from the source unchanged. */
        COPIED,
        /** Cast from another float type. */
        CAST,
        /** Quantized from floats. */
        QUANTIZED,
        /** Stored Q8_0/Q4_0 blocks (an .arica or GGUF file's), unchanged. */
        AS_STORED,
        /** Stored blocks turned into floats (exactly their values, then cast). */
        DEQUANTIZED
    }

    /** One tensor of the file: its GGUF name, the source tensor, type, how it was made and why that type. */
    public record TensorReport(String name, String source, long[] shape, GgmlType type, How how, String reason) {}

    /**
     * What was written.
     *
     * @param tokenizer the file's tokenizer.ggml.model: "llama", "gpt2", or "none"
     */
    public record Result(Path output, GgmlType type, List<TensorReport> tensors, String tokenizer, long fileBytes) {
        /** How many tensors have each type, in the order the types first appear. */
        public Map<GgmlType, Integer> typeCounts() {
            Map<GgmlType, Integer> m = new LinkedHashMap<>();
            tensors.forEach(t -> m.merge(t.type(), 1, Integer::sum));
            return m;
        }
    }

    /** One tensor's plan: what the file holds and how its rows are made from the source's. */
    private record Plan(GgufLlamaModel.Mapped mapped, GgufWriter.Entry entry, How how, String reason, DType from,
            QuantLayout stored, Quantizer quantizer) {
        long cols() {
            long[] s = entry.shape();
            return s[s.length - 1];
        }

        long rows() {
            return cols() == 0 ? 0 : TensorInfo.elements(entry.shape()) / cols();
        }

        /** Bytes of a source row: float elements, or a stored quantized row. */
        long sourceRowBytes() {
            return stored != null ? stored.rowBytes(cols()) : from.bytesFor(cols());
        }

        long rowsPerChunk() {
            return Math.max(1, CHUNK_F32_BYTES / (Math.max(1, cols()) * 4));
        }

        /** Buffer for a chunk: gathered source rows, the rows as float32, the output rows. */
        long bufferBytes() {
            long n = rowsPerChunk();
            return align(n * sourceRowBytes()) + align(n * cols() * 4) + align(entry.type().bytes(n * cols()));
        }
    }

    private GgufExporter() {}

    /**
     * The type written when none is asked: the GGML type most of the input's stored tensors have (an .arica file's
     * q8_0 or q4_0, a GGUF file's Q4_0 beside its Q8_0 head), else f16.
     */
    public static GgmlType defaultType(Checkpoint in) {
        Map<GgmlType, Integer> counts = new LinkedHashMap<>();
        if (in instanceof QuantizedCheckpoint q) {
            for (TensorInfo t : q.tensors()) {
                q.quantizedStorage(t.name()).flatMap(s -> GgmlType.of(s.layout().scheme()))
                        .ifPresent(g -> counts.merge(g, 1, Integer::sum));
            }
        }
        return counts.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(GgmlType.F16);
    }

    public static Result export(Checkpoint in, Path out, Options options, Progress progress) throws IOException {
        AtomicOutput.refuseOverInput(out, in.path(), in.dataFiles());
        GgufLlamaModel model = GgufLlamaModel.of(ModelDescription.of(in, "GGUF export"), in.path());
        GgmlType requested = options.type() != null ? options.type() : defaultType(in);
        List<Plan> plans = new ArrayList<>();
        for (GgufLlamaModel.Mapped m : model.tensors()) {
            plans.add(plan(in, m, requested, options.type(), model.tied()));
        }
        GgufKeyValues kv = model.keyValues();
        kv.putUint32(GgufKeys.FILE_TYPE, GgufTypeRule.fileType(requested));
        if (plans.stream().anyMatch(p -> p.entry().type().scheme().isPresent())) {
            kv.putUint32(GgufKeys.QUANTIZATION_VERSION, GgufTypeRule.QUANTIZATION_VERSION);
        }
        GgufKeyValues vocabulary = GgufVocabulary.of(in.auxFiles(), model.config(), in.path());
        kv.putAll(vocabulary);
        long buffer = plans.stream().mapToLong(Plan::bufferBytes).max().orElse(64);
        long total = plans.stream().mapToLong(p -> p.rows() * p.sourceRowBytes()).sum();
        List<TensorReport> reports = new ArrayList<>();
        progress.start("export-gguf", total);
        try (GgufWriter writer = GgufWriter.create(out, plans.stream().map(Plan::entry).toList(), kv);
                ChunkPipeline pipeline = new ChunkPipeline(writer::write, progress, buffer, options.threads())) {
            for (Plan p : plans) {
                queue(in, p, writer, pipeline);
                pipeline.then(() -> reports.add(new TensorReport(p.entry().name(), p.mapped().spec().name(),
                        p.entry().shape(), p.entry().type(), p.how(), p.reason())));
            }
            pipeline.drain();
            writer.commit();
        } finally {
            progress.finish();
        }
        return new Result(out, requested, List.copyOf(reports),
                vocabulary.text(GgufKeys.TOKENIZER_MODEL).orElse("none"), Files.size(out));
    }

    /**
     * The type of one tensor and how it is made, refusing what would requantize stored blocks; {@code asked}: the type
     * asked for, or null, when stored blocks GGUF holds keep their type even where it is not the file's (a
     * mixed-precision file made with {@code quantize --tensor-scheme}).
     */
    private static Plan plan(Checkpoint in, GgufLlamaModel.Mapped m, GgmlType requested, GgmlType asked, boolean tied)
            throws FormatException {
        String name = m.spec().name();
        long[] shape = m.spec().shape();
        GgufTypeRule.Choice choice = GgufTypeRule.choose(m.spec().role(), shape, requested, tied);
        Optional<Storage.Quantized> stored = in instanceof QuantizedCheckpoint q ? q.quantizedStorage(name)
                : Optional.empty();
        if (stored.isPresent()) {
            Storage.Quantized q = stored.get();
            GgmlType type = GgmlType.of(q.layout().scheme()).orElse(null);
            if (type == null || q.transposed() || q.permuted()) {
                throw new FormatException(in.path(), name, "is stored " + q.layout().describe()
                        + (q.permuted() ? " permuted" : q.transposed() ? " transposed" : "") + ", which GGUF has no type "
                        + "for; export the source checkpoint, or quantize it with --scheme q8_0 or q4_0");
            }
            boolean fits = type.fitsRow(shape[shape.length - 1]);
            if (fits && (type == choice.type() || type == requested || asked == null)) {
                return new Plan(m, new GgufWriter.Entry(m.name(), type, shape), How.AS_STORED,
                        type == choice.type() ? choice.reason() : type == requested ? "as stored (" + choice.reason() + ")"
                                : "as stored: the file's own type for this tensor", null, q.layout(), null);
            }
            if (choice.type().dtype().isEmpty()) {
                throw new FormatException(in.path(), name, "is stored " + q.layout().describe() + "; writing it "
                        + choice.type() + " would quantize it twice: export the source checkpoint, or ask for --type "
                        + q.layout().describe());
            }
            FloatCast.check(name, DType.F32, choice.type().dtype().get());
            return new Plan(m, new GgufWriter.Entry(m.name(), choice.type(), shape), How.DEQUANTIZED, choice.reason(), null,
                    q.layout(), Quantizer.of(q.layout()));
        }
        DType from = in.tensors().stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow().dtype();
        GgmlType type = choice.type();
        if (type.scheme().isPresent()) {
            FloatCast.check(name, from, DType.F32);
            return new Plan(m, new GgufWriter.Entry(m.name(), type, shape), How.QUANTIZED, choice.reason(), from, null,
                    Quantizer.of(QuantLayout.of(type.scheme().get())));
        }
        DType to = type.dtype().orElseThrow();
        FloatCast.check(name, from, to);
        return new Plan(m, new GgufWriter.Entry(m.name(), type, shape), from == to ? How.COPIED : How.CAST,
                choice.reason(), from, null, null);
    }

    /** Queues one tensor's chunks; the source's memory is released once the tensor is written. */
    private static void queue(Checkpoint in, Plan p, GgufWriter writer, ChunkPipeline pipeline) throws IOException {
        String name = p.mapped().spec().name();
        Arena memory = Arena.ofShared();
        List<MemorySegment> parts;
        if (p.stored() != null) {
            parts = List.of(((QuantizedCheckpoint) in).stored(name, memory));
        } else {
            Tensor t = in.tensor(name, memory);
            parts = t.parts();
        }
        OrderedRows rows = new OrderedRows(parts, p.sourceRowBytes(), p.mapped().rowOrder());
        pipeline.then(() -> writer.begin(p.entry().name()));
        long perChunk = p.rowsPerChunk();
        for (long r0 = 0; r0 < p.rows(); r0 += perChunk) {
            long first = r0;
            long n = Math.min(perChunk, p.rows() - r0);
            MemorySegment view = rows.view(first, n);
            pipeline.submit(buffer -> chunk(p, rows, view, first, n, buffer), view, n * rows.rowBytes());
        }
        pipeline.then(() -> {
            if (p.mapped().rowOrder() != null || parts.size() > 1) {
                parts.forEach(MappedMemory::release);
            }
            memory.close();
        });
    }

    /** Rows {@code [first, first + n)} of the file's tensor, made in {@code buffer}. */
    private static MemorySegment chunk(Plan p, OrderedRows rows, MemorySegment view, long first, long n,
            MemorySegment buffer) {
        long cols = p.cols();
        long srcBytes = n * rows.rowBytes();
        long f32At = align(srcBytes);
        long outAt = f32At + align(n * cols * 4);
        MemorySegment src = view;
        if (src == null) {
            src = buffer.asSlice(0, srcBytes);
            rows.gather(first, n, src);
        }
        MemorySegment out = buffer.asSlice(outAt, p.entry().type().bytes(n * cols));
        switch (p.how()) {
            case COPIED, AS_STORED -> MemorySegment.copy(src, 0, out, 0, srcBytes);
            case CAST -> FloatCast.cast(p.from(), src, p.entry().type().dtype().orElseThrow(), out, n * cols);
            case QUANTIZED -> {
                MemorySegment f32 = src;
                if (p.from() != DType.F32) {
                    f32 = buffer.asSlice(f32At, n * cols * 4);
                    FloatCast.cast(p.from(), src, DType.F32, f32, n * cols);
                }
                try {
                    p.quantizer().quantizeRows(f32, out, cols, 0, n);
                } catch (QuantizationException e) {
                    throw e.withTensor(p.mapped().spec().name(), first, cols);
                }
            }
            case DEQUANTIZED -> {
                MemorySegment f32 = buffer.asSlice(f32At, n * cols * 4);
                p.quantizer().dequantizeRows(src, f32, cols, 0, n);
                DType to = p.entry().type().dtype().orElseThrow();
                if (to == DType.F32) {
                    return f32;
                }
                FloatCast.cast(DType.F32, f32, to, out, n * cols);
            }
        }
        return out;
    }
}
