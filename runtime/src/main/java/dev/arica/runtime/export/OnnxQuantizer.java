package dev.arica.runtime.export;

import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.MappedMemory;
import dev.arica.formats.onnx.OnnxModel;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.quantize.CheckpointQuantizer.Report;
import dev.arica.quantize.CheckpointQuantizer.TensorReport;
import dev.arica.quantize.ErrorStats;
import dev.arica.quantize.QuantizationException;
import dev.arica.quantize.Quantizer;
import dev.arica.runtime.export.OnnxQuantizedGraph.FloatCopy;
import dev.arica.runtime.export.OnnxQuantizedGraph.Item;
import dev.arica.runtime.export.OnnxQuantizedGraph.Plane;
import dev.arica.runtime.export.OnnxWeightPlan.Matrix;
import dev.arica.runtime.export.OnnxWeightPlan.Orientation;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.regex.Pattern;

/**
 * Quantizes an ONNX model made elsewhere (PyTorch, Optimum, ...) into an ONNX model: the weights of its MatMul and
 * Gemm nodes (and, when asked, the tables of its Gather nodes) run quantized by ONNX Runtime's MatMulNBits (and
 * GatherBlockQuantized), by MatMulIntegerToFloat on int8 per output channel ({@code dynamic}), or by DequantizeLinear
 * + MatMul ({@code portable}); every other node, input, output, initializer and the model's metadata stay as they
 * were. Planned by {@link OnnxWeightPlan}, the graph rewritten by {@link OnnxQuantizedGraph}; the weights are
 * quantized one at a time from the model's mapping (rows spread over worker threads), each error measured as for a
 * checkpoint, and written as their planes by the same code as the export of .arica files ({@link MatMulNBitsWeights},
 * {@link DequantizeLinearWeights}). Written under temporary names and renamed at the end; the input is only read.
 */
public final class OnnxQuantizer {

    /** float32 bytes of rows quantized per task. */
    private static final long CHUNK_F32_BYTES = 4L << 20;
    /** Bytes through which planes are repacked and written. */
    private static final long SCRATCH_BYTES = 4L << 20;

    private static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * @param layout the scheme of the quantized weights
     * @param tableLayout the scheme of quantized Gather tables, run by GatherBlockQuantized; null: int8 per row,
     *     dequantized by standard operators before the Gather (ONNX Runtime folds them into a float table on load)
     * @param keep patterns (searched in a weight's name and in the names of the nodes reading it) of what stays float
     * @param embeddings whether the tables of Gather nodes are quantized too (GatherBlockQuantized)
     * @param portable DequantizeLinear (ONNX opset 21) + MatMul instead of ONNX Runtime's MatMulNBits
     * @param dynamic the products' weights in int8 per output channel for ONNX Runtime's MatMulIntegerToFloat
     *     ({@link ChannelInt8Weights}; {@code layout} then only says int8) instead of MatMulNBits
     * @param accuracyLevel MatMulNBits' accuracy_level: 4 quantizes the activations to int8 for integer dot products
     *     (ONNX Runtime's fast CPU path, the only one for 8-bit weights); 0 computes in float32
     * @param externalData write the weights into {@code <output>.data} even when the input keeps all of them inline
     * @param threads worker threads quantizing rows
     */
    public record Options(QuantLayout layout, QuantLayout tableLayout, List<Pattern> keep, boolean embeddings,
            boolean portable, boolean dynamic, int accuracyLevel, boolean externalData, int threads) {
        public Options {
            keep = List.copyOf(keep);
            if (portable && tableLayout != null && embeddings) {
                throw new IllegalArgumentException("portable Gather tables are int8 per row (standard operators); a "
                        + "table layout needs GatherBlockQuantized");
            }
            if (portable && dynamic) {
                throw new IllegalArgumentException("portable (DequantizeLinear) and dynamic (MatMulIntegerToFloat) "
                        + "exclude each other");
            }
            if (dynamic && layout.scheme() != Scheme.INT8) {
                throw new IllegalArgumentException("MatMulIntegerToFloat weights are int8 per output channel, not "
                        + layout.describe());
            }
            if (accuracyLevel < 0 || accuracyLevel > 4) {
                throw new IllegalArgumentException("MatMulNBits accuracy_level is 0 to 4, not " + accuracyLevel);
            }
            if (threads < 1) {
                throw new IllegalArgumentException("threads must be at least 1, not " + threads);
            }
        }

        /** {@code layout} with the defaults: MatMulNBits at accuracy_level 4, projections only, all cores. */
        public static Options of(QuantLayout layout) {
            return new Options(layout, layout, List.of(), false, false, false, OnnxExporter.DEFAULT_ACCURACY_LEVEL,
                    false, Runtime.getRuntime().availableProcessors());
        }

        OnnxWeightPlan.Selection selection() {
            return new OnnxWeightPlan.Selection(layout, tableLayout, keep, embeddings, portable, dynamic);
        }
    }

    private OnnxQuantizer() {}

    /**
     * Writes the quantized model to {@code output} (and {@code output.data} when weights are external) and reports
     * every initializer of a type arica knows. A model without a weight to quantize is a FormatException.
     */
    public static Report quantize(Path input, Path output, Options options, Progress progress) throws IOException {
        AtomicOutput.refuseOverInput(output, input, List.of());
        try (OnnxModel model = OnnxModel.open(input)) {
            OnnxWeightPlan plan = OnnxWeightPlan.of(model, options.selection());
            if (!plan.quantizesAnything()) {
                throw new FormatException(input, "nothing to quantize: no MatMul or Gemm reads a 2-D float32 or float16 "
                        + "initializer of " + OnnxWeightPlan.MIN_ELEMENTS + " elements or more as its B"
                        + (options.embeddings() ? ", no Gather one as its table" : "") + " (" + model.nodeCount()
                        + " nodes, " + model.initializers().size() + " initializers)");
            }
            boolean dequantizeLinear = plan.weights().stream().flatMap(w -> w.matrices().stream())
                    .anyMatch(m -> m.forms().contains(OnnxWeightPlan.Form.DEQUANTIZE_LINEAR));
            if (dequantizeLinear) {
                checkPortableOpset(model);
            }
            Path data = output.resolveSibling(output.getFileName() + OnnxWriter.DATA_SUFFIX);
            for (Path f : model.dataFiles()) {
                if (Files.exists(data) && Files.isSameFile(f, data)) {
                    throw new IllegalArgumentException("output " + output + " would replace " + data
                            + ", the input's external data; write to another path");
                }
            }
            // Weights stay where the input keeps them: a model with everything inline gives a model of one file.
            boolean external = options.externalData() || !model.dataFiles().isEmpty();
            OnnxWriter.Options writing = external ? OnnxWriter.Options.defaults()
                    : new OnnxWriter.Options(Long.MAX_VALUE, OnnxWriter.Options.defaults().alignment());
            OnnxQuantizedGraph.Built built = OnnxQuantizedGraph.build(model, plan, options.accuracyLevel(),
                    writing.externalThreshold());
            List<TensorReport> reports = write(model, plan, built, output, writing, options, progress);
            long bytes = Files.size(output) + (external && Files.exists(data) ? Files.size(data) : 0);
            return new Report(output, reports, bytes);
        }
    }

    /** DequantizeLinear takes block_size from opset 21; arica does not move a graph to another opset. */
    private static void checkPortableOpset(OnnxModel model) throws FormatException {
        long opset = model.opsetImports().stream().filter(o -> o.domain().isEmpty() || o.domain().equals("ai.onnx"))
                .mapToLong(OnnxModel.Opset::version).max().orElse(0);
        if (opset < OnnxQuantizedGraph.PORTABLE_OPSET) {
            throw new FormatException(model.path(), "--portable writes DequantizeLinear with block_size, which needs "
                    + "ONNX opset " + OnnxQuantizedGraph.PORTABLE_OPSET + ", and the model imports opset " + opset
                    + " (operators changed meaning between the versions; arica does not convert a graph): convert it "
                    + "first (onnx.version_converter), or quantize without --portable (MatMulNBits runs at any opset)");
        }
    }

    private static List<TensorReport> write(OnnxModel model, OnnxWeightPlan plan, OnnxQuantizedGraph.Built built,
            Path output, OnnxWriter.Options writing, Options options, Progress progress) throws IOException {
        Map<String, ErrorStats> errors = new HashMap<>();
        Map<String, Long> planeBytes = new HashMap<>();
        // Progress counts the source bytes of the weights read: quantized ones and those streamed as they are.
        Map<String, Long> sourceBytes = new HashMap<>();
        for (Item item : built.items()) {
            String name = item instanceof Plane p ? p.matrix().weight() : item.initializer().name();
            sourceBytes.put(name, model.initializer(name).orElseThrow().bytes());
        }
        progress.start("quantize", sourceBytes.values().stream().mapToLong(Long::longValue).sum());
        ExecutorService pool = Executors.newFixedThreadPool(options.threads(), r -> {
            Thread t = new Thread(r, "arica-onnx-quantize");
            t.setDaemon(true);
            return t;
        });
        try (OnnxWriter w = OnnxWriter.atomic(output, built.model(),
                built.items().stream().map(Item::initializer).toList(), writing);
                Arena arena = Arena.ofShared()) {
            MemorySegment scratch = arena.allocate(SCRATCH_BYTES, 64);
            MatMulNBitsWeights.Sink sink = w::write;
            Matrix current = null;
            Arena weightArena = null;
            MemorySegment stored = null;
            try {
                for (Item item : built.items()) {
                    w.begin(item.initializer().name());
                    switch (item) {
                        case FloatCopy f -> {
                            WeightWriter.copy(model.data(f.initializer().name()), w, Progress.NONE);
                            progress.advance(sourceBytes.remove(f.initializer().name()));
                        }
                        case Plane p -> {
                            Matrix m = p.matrix();
                            if (m != current) {
                                if (weightArena != null) {
                                    weightArena.close();
                                }
                                weightArena = Arena.ofShared();
                                stored = weightArena.allocate(m.perChannel() ? new ChannelInt8Weights(m.n(), m.k()).bytes()
                                        : m.layout().bytes(m.n(), m.k()), 64);
                                ErrorStats e = quantize(model.data(m.weight()), model.initializer(m.weight()).orElseThrow()
                                        .type(), m, stored, pool, options.threads());
                                errors.merge(m.weight(), e, ErrorStats::merge);
                                current = m;
                                Long read = sourceBytes.remove(m.weight());
                                if (read != null) {
                                    progress.advance(read);
                                }
                            }
                            // Planes are written a row at a time at least.
                            long row = m.perChannel() ? m.n() : m.layout().rowBytes(m.k());
                            MemorySegment bytes = scratch.byteSize() >= row ? scratch : weightArena.allocate(row, 64);
                            writePlane(p, stored, bytes, sink);
                            planeBytes.merge(m.weight(), p.initializer().byteSize(), Long::sum);
                        }
                    }
                }
            } finally {
                if (weightArena != null) {
                    weightArena.close();
                }
            }
            w.commit();
        } finally {
            pool.shutdownNow();
            progress.finish();
        }
        List<TensorReport> reports = new ArrayList<>();
        for (OnnxWeightPlan.Weight wt : plan.weights()) {
            OnnxModel.Initializer init = wt.initializer();
            if (init.type().dtype().isEmpty()) {
                continue; // a type arica has no name for (strings, complex): copied as it is, not reported
            }
            long stored = planeBytes.getOrDefault(init.name(), 0L) + (wt.keptFloat() ? init.bytes() : 0);
            String layouts = String.join(" / ", wt.matrices().stream().map(Matrix::describe).distinct().toList());
            String storage = wt.quantized() ? layouts + (wt.keptFloat() ? " + " + init.type().displayName() : "")
                    : init.type().displayName();
            boolean padded = wt.matrices().stream().anyMatch(m -> !m.perChannel() && m.k() % m.layout().groupSize() != 0);
            reports.add(new TensorReport(init.name(), init.shape(), init.type().dtype().get(), storage, wt.quantized(),
                    wt.reason(), padded, errors.get(init.name()), init.bytes(), stored, stored));
        }
        return List.copyOf(reports);
    }

    private static void writePlane(Plane p, MemorySegment stored, MemorySegment scratch, MatMulNBitsWeights.Sink sink)
            throws IOException {
        Matrix m = p.matrix();
        if (m.perChannel()) {
            ChannelInt8Weights w = new ChannelInt8Weights(m.n(), m.k());
            switch (p.kind()) {
                case CHANNEL_COLUMNS -> w.writeColumns(stored, scratch, sink);
                case CHANNEL_ROWS -> w.writeRows(stored, sink);
                case CHANNEL_SCALES -> w.writeScales(stored, sink);
                default -> throw new IllegalStateException(p.kind() + " of an int8 per-channel weight");
            }
            return;
        }
        QuantLayout layout = m.layout();
        MatMulNBitsWeights nbits = new MatMulNBitsWeights(layout, m.n(), m.k());
        DequantizeLinearWeights dq = new DequantizeLinearWeights(layout, m.n(), m.k());
        switch (p.kind()) {
            case NBITS_CODES -> nbits.writeCodes(stored, scratch, sink);
            case NBITS_SCALES -> nbits.writeScales(stored, scratch, sink);
            case NBITS_ZERO_POINTS -> nbits.writeZeroPoints(stored, scratch, sink);
            case DQ_CODES -> dq.writeCodes(stored, scratch, sink);
            case DQ_SCALES -> dq.writeScales(stored, scratch, sink);
            case DQ_ZERO_POINTS -> dq.writeZeroPoints(stored, scratch, sink);
            case COLUMN_ORDER, CHANNEL_COLUMNS, CHANNEL_ROWS, CHANNEL_SCALES -> throw new IllegalStateException(p.kind() + " of "
                    + layout.describe());
        }
    }

    /**
     * Quantizes matrix {@code m} of the weight's bytes {@code data} into {@code stored}, chunks of rows on
     * {@code pool}, and returns the error of every element (flat indexes of the [N, K] matrix).
     */
    private static ErrorStats quantize(MemorySegment data, OnnxType type, Matrix m, MemorySegment stored,
            ExecutorService pool, int threads) {
        long k = m.k();
        long rowsPerChunk = Math.max(1, CHUNK_F32_BYTES / (k * 4));
        long chunks = Math.ceilDiv(m.n(), rowsPerChunk);
        ErrorStats[] stats = new ErrorStats[Math.toIntExact(chunks)];
        if (m.perChannel()) {
            ChannelInt8Weights w = new ChannelInt8Weights(m.n(), k);
            Quantizer.runParallel(chunks, threads, pool, (c0, c1) -> {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment f32 = a.allocate(Math.min(rowsPerChunk, m.n()) * k * 4, 64);
                    for (long c = c0; c < c1; c++) {
                        long first = c * rowsPerChunk;
                        long rows = Math.min(rowsPerChunk, m.n() - first);
                        stats[(int) c] = new ErrorStats();
                        w.quantizeRows(m.weight(), rows(data, type, m, first, rows, f32), first, rows, stored,
                                stats[(int) c]);
                    }
                }
            });
            return merged(stats, data);
        }
        Quantizer quantizer = Quantizer.of(m.layout());
        long rowBytes = quantizer.layout().rowBytes(k);
        Quantizer.runParallel(chunks, threads, pool, (c0, c1) -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment f32 = a.allocate(Math.min(rowsPerChunk, m.n()) * k * 4, 64);
                for (long c = c0; c < c1; c++) {
                    long first = c * rowsPerChunk;
                    long rows = Math.min(rowsPerChunk, m.n() - first);
                    MemorySegment src = rows(data, type, m, first, rows, f32);
                    MemorySegment out = stored.asSlice(first * rowBytes, rows * rowBytes);
                    ErrorStats e = new ErrorStats();
                    try {
                        quantizer.quantizeRows(src, out, k, 0, rows, e, first * k);
                    } catch (QuantizationException ex) {
                        throw ex.withTensor(m.orientation() == Orientation.TRANSPOSED ? m.weight() + " (transposed to ["
                                + m.n() + ", " + k + "])" : m.weight(), first, k);
                    }
                    stats[(int) c] = e;
                }
            }
        });
        return merged(stats, data);
    }

    /** The chunks' errors together; the weight's mapped pages leave the resident set. */
    private static ErrorStats merged(ErrorStats[] stats, MemorySegment data) {
        ErrorStats all = new ErrorStats();
        for (ErrorStats e : stats) {
            all.merge(e);
        }
        MappedMemory.release(data);
        return all;
    }

    /**
     * Rows {@code [first, first + rows)} of the [N, K] matrix as float32: a view of the data for float32 rows, else
     * widened or gathered from the columns of a transposed weight into {@code buffer}.
     */
    private static MemorySegment rows(MemorySegment data, OnnxType type, Matrix m, long first, long rows,
            MemorySegment buffer) {
        long k = m.k();
        long count = rows * k;
        DType dtype = type.dtype().orElseThrow();
        if (m.orientation() == Orientation.ROWS) {
            MemorySegment src = data.asSlice(dtype.bytesFor(first * k), dtype.bytesFor(count));
            if (type == OnnxType.FLOAT) {
                return src;
            }
            FloatCast.cast(dtype, src, DType.F32, buffer, count);
            return buffer.asSlice(0, count * 4);
        }
        // B [K, N]: row r of the matrix is column first + r of B, read as one run of each of B's K rows.
        long n = m.n();
        float[] run = new float[(int) rows];
        float[] out = new float[Math.toIntExact(count)];
        short[] halves = type == OnnxType.FLOAT ? null : new short[(int) rows];
        for (long c = 0; c < k; c++) {
            long at = c * n + first;
            if (halves == null) {
                MemorySegment.copy(data, FloatCast.F32_LE, at * 4, run, 0, (int) rows);
            } else {
                MemorySegment.copy(data, I16_LE, at * 2, halves, 0, (int) rows);
                for (int r = 0; r < rows; r++) {
                    run[r] = Float.float16ToFloat(halves[r]);
                }
            }
            for (int r = 0; r < rows; r++) {
                out[(int) (r * k + c)] = run[r];
            }
        }
        MemorySegment.copy(out, 0, buffer, FloatCast.F32_LE, 0, (int) count);
        return buffer.asSlice(0, count * 4);
    }
}
