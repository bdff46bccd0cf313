package dev.arica.quantize;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.QuantizedCheckpoint;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaEntry;
import dev.arica.formats.arica.AricaWriter;
import dev.arica.formats.arica.ColumnOrder;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.gptq.GptqCheckpoint;
import dev.arica.formats.gptq.GptqPlanes;
import dev.arica.formats.gptq.GptqWeight;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.CastPipeline;
import dev.arica.formats.io.ChunkPipeline;
import dev.arica.formats.io.FileDigest;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.io.Json;
import dev.arica.formats.io.MappedMemory;
import dev.arica.formats.io.SourceChannels;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.model.TensorTable;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.quantize.tune.ScaleTuner;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Quantizes a checkpoint into an .arica file in one streaming pass: tensors are read from their mapping,
 * quantized chunk by chunk on worker threads (measuring the error of every element on the way) and
 * written in order; float tensors are copied or cast. The source files are hashed for the provenance on a
 * thread of their own meanwhile. Memory is a fixed set of chunk buffers whatever the model's size. A GPTQ checkpoint
 * without a scheme keeps its quantization: its layers' codes are moved into the .arica layout, not requantized. A
 * source that stores tensors in arica's own layouts ({@link QuantizedCheckpoint}: a GGUF file's Q8_0 and Q4_0 blocks)
 * has those bytes copied unchanged, without a scheme or with the scheme they are stored in.
 */
public final class CheckpointQuantizer {
    /** float32 bytes of source rows per chunk: big enough for efficient writes, small enough to stay flat. */
    static final long CHUNK_F32_BYTES = 4L << 20;
    /** float32 bytes of GPTQ rows dequantized at once to measure the error, so they stay in the core's cache. */
    static final long CHECK_F32_BYTES = 64L << 10;

    /**
     * @param layout the quantization of the selected tensors; null to store the source's quantization as it is: a GPTQ
     *     checkpoint's layers repacked ({@link GptqRepacker}), stored blocks in arica's layouts copied, other tensors float
     * @param floatType type of the tensors kept float (and of the logical dtype of quantized ones), or null to
     *     keep each source type
     * @param zstdLevel 0 for no compression, else the zstd level of every tensor
     * @param user free-form metadata
     * @param aricaVersion recorded in the provenance
     * @param commandLine recorded in the provenance
     * @param threads worker threads
     * @param digestCache where source digests are remembered ({@link FileDigest}), or null to always hash
     * @param rules per-tensor layouts over {@code layout}, the first matching rule applying ({@link #layoutOf})
     * @param tuning the group scale factors of end-to-end tuning ({@link EndToEndTuning}), or null
     */
    public record Options(QuantLayout layout, TensorSelection selection, DType floatType, int zstdLevel,
            Map<String, String> user, String aricaVersion, String commandLine, int threads, Path digestCache,
            Method method, Calibration calibration, List<SchemeRule> rules, ScaleTuner.Result tuning) {
        public Options {
            user = Map.copyOf(user);
            rules = List.copyOf(rules);
            if (tuning != null && !method.calibrated()) {
                throw new IllegalArgumentException("tuned scales apply to the codes of a calibrated method");
            }
            if (layout == null && !rules.isEmpty()) {
                throw new IllegalArgumentException("per-tensor schemes need a scheme for the other tensors");
            }
            if (method.calibrated() && rules.stream().anyMatch(r -> r.layout().scheme() == Scheme.Q8_0)) {
                throw new IllegalArgumentException(method.id + " writes q4_0, int4 and int8, not q8_0");
            }
            if (floatType != null && !floatType.isFloat()) {
                throw new IllegalArgumentException(floatType + " is not a float type");
            }
            if (method.calibrated() && (layout == null || calibration == null)) {
                throw new IllegalArgumentException(method.id + " needs a scheme and calibration statistics");
            }
        }

        /** Round to nearest, no calibration. */
        public Options(QuantLayout layout, TensorSelection selection, DType floatType, int zstdLevel,
                Map<String, String> user, String aricaVersion, String commandLine, int threads, Path digestCache) {
            this(layout, selection, floatType, zstdLevel, user, aricaVersion, commandLine, threads, digestCache,
                    Method.RTN, null, List.of(), null);
        }

        /** These options with the codes chosen by {@code m} from {@code c} (null for {@link Method#RTN}). */
        public Options withMethod(Method m, Calibration c) {
            return new Options(layout, selection, floatType, zstdLevel, user, aricaVersion, commandLine, threads,
                    digestCache, m, c, rules, tuning);
        }

        /** These options with tensors matching a rule stored in its layout (the first matching rule). */
        public Options withRules(List<SchemeRule> r) {
            return new Options(layout, selection, floatType, zstdLevel, user, aricaVersion, commandLine, threads,
                    digestCache, method, calibration, r, tuning);
        }

        /** These options with the group scales of the calibrated method's codes multiplied by {@code t}'s factors. */
        public Options withTuning(ScaleTuner.Result t) {
            return new Options(layout, selection, floatType, zstdLevel, user, aricaVersion, commandLine, threads,
                    digestCache, method, calibration, rules, t);
        }

        /** The layout a quantized tensor named {@code name} is stored in: its rule's, else the scheme's (null: as stored). */
        public QuantLayout layoutOf(String name) {
            return SchemeRule.first(rules, name).orElse(layout);
        }

        public static Options of(QuantLayout layout) {
            return new Options(layout, TensorSelection.defaults(), null, 0, Map.of(), "unknown", "",
                    ChunkPipeline.defaultThreads(), null);
        }
    }

    /**
     * One tensor of the report.
     *
     * @param storage what was stored: a scheme description ("q4_0", "int4 g64 asym") or a dtype name
     * @param reason why it was (or was not) quantized
     * @param padded whether the last group of each row was padded (row length not a multiple of the group)
     * @param error the quantization error, null for tensors kept float
     * @param sourceBytes bytes of the tensor in the source
     * @param storedBytes bytes in the .arica file (after compression)
     * @param rawBytes bytes of the stored representation before compression
     */
    public record TensorReport(String name, long[] shape, DType sourceDtype, String storage, boolean quantized,
            String reason, boolean padded, ErrorStats error, long sourceBytes, long storedBytes, long rawBytes) {}

    /** What was written. */
    public record Report(Path output, List<TensorReport> tensors, long fileBytes) {
        public long sourceBytes() {
            return tensors.stream().mapToLong(TensorReport::sourceBytes).sum();
        }

        public long storedBytes() {
            return tensors.stream().mapToLong(TensorReport::storedBytes).sum();
        }

        public long quantizedCount() {
            return tensors.stream().filter(TensorReport::quantized).count();
        }

        /** Mean over the quantized tensors of their SNR in dB; NaN when none was quantized. */
        public double meanSnrDb() {
            return tensors.stream().filter(TensorReport::quantized).mapToDouble(t -> t.error().snrDb()).average()
                    .orElse(Double.NaN);
        }

        /** Lowest SNR of a quantized tensor; NaN when none was quantized. */
        public double minSnrDb() {
            return tensors.stream().filter(TensorReport::quantized).mapToDouble(t -> t.error().snrDb()).min()
                    .orElse(Double.NaN);
        }

        /** The error over all quantized elements together. */
        public ErrorStats overall() {
            ErrorStats all = new ErrorStats();
            tensors.stream().filter(TensorReport::quantized).forEach(t -> all.merge(t.error()));
            return all;
        }
    }

    private CheckpointQuantizer() {}

    /**
     * The choice for each tensor of {@code in}, without writing anything: by the roles of its family's description
     * when it is one arica describes, else by the tensors' names.
     */
    public static List<TensorSelection.Choice> plan(Checkpoint in, Options options) {
        TensorTable table = describedTensors(in);
        return in.tensors().stream().map(t -> {
            TensorSelection.Choice c = options.selection().choose(t, table == null ? Optional.empty() : table.byName(t.name()));
            Optional<Storage.Quantized> kept = kept(in, t, c, options.layoutOf(t.name()));
            if (kept.isPresent()) {
                return new TensorSelection.Choice(true, (options.layout() == null ? "" : c.reason() + "; ") + "stored "
                        + kept.get().layout().describe() + " blocks kept");
            }
            if (options.layout() != null) {
                return c;
            }
            // Stored as quantized: a GPTQ layer as GPTQ quantized it, everything else as it is.
            if (in instanceof GptqCheckpoint g) {
                return g.weight(t.name()).isPresent() ? new TensorSelection.Choice(true, "GPTQ layer")
                        : new TensorSelection.Choice(false, t.rank() == 2 && t.dtype().isFloat()
                                ? "float in the GPTQ checkpoint" : c.reason());
            }
            return new TensorSelection.Choice(false, t.rank() == 2 ? "no stored blocks to keep (no scheme given)"
                    : c.reason());
        }).toList();
    }

    /**
     * How {@code t} is stored quantized when those bytes go into the .arica file as they are: without a scheme, every
     * tensor the source stores in one of arica's layouts; with one, those the selection quantizes whose stored
     * layout is the scheme's. Empty otherwise (the tensor is read as floats).
     */
    private static Optional<Storage.Quantized> kept(Checkpoint in, TensorInfo t, TensorSelection.Choice c,
            QuantLayout layout) {
        if (!(in instanceof QuantizedCheckpoint q)) {
            return Optional.empty();
        }
        return q.quantizedStorage(t.name()).filter(s -> layout == null || c.quantize() && !c.transposed()
                && !s.transposed() && !s.permuted() && s.layout().equals(layout));
    }

    /** The tensor table of {@code in}'s family, or null when it is not one arica describes (any safetensors file). */
    private static TensorTable describedTensors(Checkpoint in) {
        if (in.config().isEmpty()) {
            return null;
        }
        try {
            return ModelDescription.of(in, "").tensors();
        } catch (IOException e) {
            return null;
        }
    }

    public static Report quantize(Checkpoint in, Path out, Options options, Progress progress) throws IOException {
        AtomicOutput.refuseOverInput(out, in.path(), in.dataFiles());
        // A source's first hash is the critical path of its first run: it starts before the planning, not after.
        try (SourceHasher hasher = SourceHasher.start(in.dataFiles(), options.digestCache())) {
            return quantize(in, out, options, progress, hasher);
        }
    }

    private static Report quantize(Checkpoint in, Path out, Options options, Progress progress, SourceHasher hasher)
            throws IOException {
        QuantLayout layout = options.layout();
        GptqCheckpoint gptq = in instanceof GptqCheckpoint g && layout == null ? g : null;
        Quantizer quantizer = layout == null ? null : Quantizer.of(layout);
        List<TensorInfo> infos = in.tensors();
        List<TensorSelection.Choice> choices = plan(in, options);
        List<Storage.Quantized> kept = new ArrayList<>();
        for (int i = 0; i < infos.size(); i++) {
            kept.add(kept(in, infos.get(i), choices.get(i), options.layoutOf(infos.get(i).name())).orElse(null));
        }
        if (layout == null && gptq == null && kept.stream().allMatch(java.util.Objects::isNull)) {
            throw new IllegalArgumentException(in.path() + " is not a GPTQ checkpoint and stores no tensor in a layout "
                    + "arica keeps as it is (q8_0, q4_0): give a scheme to quantize it");
        }
        Map<String, GptqRepacker.Plan> gptqPlans = new HashMap<>();
        long buffer = CastPipeline.BUFFER_BYTES;
        long total = 0;
        for (int i = 0; i < infos.size(); i++) {
            TensorInfo t = infos.get(i);
            if (kept.get(i) != null) {
                total += kept.get(i).rawBytes(t.shape());
                continue;
            }
            total += t.byteSize();
            if (choices.get(i).quantize()) {
                long cols = storedCols(t, choices.get(i));
                QuantLayout l = options.layoutOf(t.name());
                if (gptq != null) {
                    GptqRepacker.Plan p = GptqRepacker.plan(gptq.planes(gptq.weight(t.name()).orElseThrow()), gptq.gptq());
                    gptqPlans.put(t.name(), p);
                    l = p.layout();
                }
                buffer = Math.max(buffer, gptq != null ? repackBufferFor(l, cols, rowsPerChunk(cols))
                        : bufferFor(l, cols, rowsPerChunk(cols), t.dtype()));
                FloatCast.check(t.name(), t.dtype(), DType.F32);
            } else if (options.floatType() != null && t.dtype().isFloat()) {
                FloatCast.check(t.name(), t.dtype(), options.floatType());
            }
        }
        List<TensorReport> reports = new ArrayList<>();
        progress.start("quantize", total);
        try (SourceChannels channels = new SourceChannels();
                AricaWriter writer = AricaWriter.create(out);
                ChunkPipeline pipeline = new ChunkPipeline(writer::write, progress, buffer, options.threads(),
                        hasher.workerNice())) {
            Source source = new Source(in, channels);
            for (int i = 0; i < infos.size(); i++) {
                TensorInfo t = infos.get(i);
                TensorSelection.Choice choice = choices.get(i);
                if (kept.get(i) != null) {
                    queueKept(pipeline, writer, (QuantizedCheckpoint) in, t, kept.get(i), choice, options, reports);
                    continue;
                }
                GptqRepacker.Plan gptqPlan = gptqPlans.get(t.name());
                if (gptqPlan != null && gptqPlan.exact()) {
                    queueRepacked(pipeline, writer, gptq.planes(gptq.weight(t.name()).orElseThrow()), gptqPlan, options,
                            reports);
                    continue;
                }
                Tensor src = in.tensor(t.name());
                if (gptqPlan != null) {
                    queueQuantized(pipeline, writer, Quantizer.of(gptqPlan.layout()), src,
                            new TensorSelection.Choice(true, gptqPlan.reason()), options, reports, source);
                } else if (choice.quantize() && options.method().calibrated()) {
                    CalibratedQuantizer q = calibrated(options, t.name());
                    queueQuantized(pipeline, writer, q, src, new TensorSelection.Choice(true, choice.reason() + "; "
                            + (q.calibrated() ? options.method().id : "search without statistics (input not measured)"),
                            choice.transposed()), options, reports, source);
                } else if (choice.quantize()) {
                    QuantLayout own = options.layoutOf(t.name());
                    queueQuantized(pipeline, writer, own.equals(layout) ? quantizer : Quantizer.of(own), src, choice,
                            options, reports, source);
                } else {
                    queueFloat(pipeline, writer, src, choice, options, reports);
                }
            }
            pipeline.drain();
            for (AuxFile f : in.auxFiles()) {
                writer.addFile(f.name(), f.bytes());
            }
            ObjectNode provenance = provenance(in, options, hasher.digests());
            writer.commit(in.config().orElse(null), provenance, options.user());
        } finally {
            progress.finish();
        }
        return new Report(out, List.copyOf(reports), Files.size(out));
    }

    /**
     * The quantizer of {@code tensor} by the options' calibrated method, with its input's statistics; GPTQ's factor of
     * the Hessian is made here, on the thread that queues the tensor, while the workers finish the previous ones.
     */
    static CalibratedQuantizer calibrated(Options options, String tensor) throws IOException {
        InputStatistics s = options.calibration().inputs(tensor).orElse(null);
        Method m = options.method();
        float[] factors = options.tuning() == null ? null : options.tuning().factors().get(tensor);
        if (s == null || m == Method.GPTQ && !s.hasHessian()) {
            return new CalibratedQuantizer(options.layoutOf(tensor), Method.SEARCH, null, factors);
        }
        try {
            return new CalibratedQuantizer(options.layoutOf(tensor), m, s, factors);
        } catch (ArithmeticException e) {
            throw QuantizationException.calibration(e.getMessage()).withTensor(tensor);
        }
    }

    private static long cols(TensorInfo t) {
        return t.shape()[t.shape().length - 1];
    }

    /** Columns of the stored rows: the last axis, or the first of a transposed [in, out] weight. */
    private static long storedCols(TensorInfo t, TensorSelection.Choice choice) {
        return choice.transposed() ? t.shape()[0] : cols(t);
    }

    /**
     * A Conv1D [in, out] weight as float32 [out, in], in memory of {@code arena}: one tensor at a time, the price of
     * quantizing it along its input features.
     */
    private static MemorySegment transposedF32(Tensor src, Arena arena) {
        long in = src.info().shape()[0], out = src.info().shape()[1];
        MemorySegment rows = arena.allocate(in * out * 4, 64);
        new RowReader(src, out, null, null).readF32(0, in, rows, MemorySegment.NULL);
        MemorySegment t = arena.allocate(in * out * 4, 64);
        for (long c = 0; c < in; c++) {
            for (long r = 0; r < out; r++) {
                t.setAtIndex(FloatCast.F32_LE, r * in + c, rows.getAtIndex(FloatCast.F32_LE, c * out + r));
            }
        }
        return t;
    }

    private static long rowsPerChunk(long cols) {
        return Math.max(1, CHUNK_F32_BYTES / (cols * 4));
    }

    private static long rowsPerCheck(long cols) {
        return Math.max(1, CHECK_F32_BYTES / (cols * 4));
    }

    /**
     * Buffer for a chunk: its quantized rows, the rows as float32 when not read in place, and the rows as stored in
     * the file when they are read from it in another type ({@code from}) to be cast.
     */
    private static long bufferFor(QuantLayout layout, long cols, long rows, DType from) {
        return castAt(layout, cols, rows) + (from == DType.F32 ? 0 : align(from.bytesFor(rows * cols)));
    }

    /** Where a chunk's rows to be cast start in its buffer: after its quantized rows and its float32 rows. */
    private static long castAt(QuantLayout layout, long cols, long rows) {
        return align(layout.bytes(rows, cols)) + align(rows * cols * 4);
    }

    /** Buffer for a chunk of a GPTQ layer: its stored rows, then a check block of source rows and one dequantized. */
    private static long repackBufferFor(QuantLayout layout, long cols, long rows) {
        return align(layout.bytes(rows, cols)) + 2 * align(rowsPerCheck(cols) * cols * 4);
    }

    /** {@code n} rounded up to 64 bytes: where the next part of a chunk buffer starts. */
    static long align(long n) {
        return (n + 63) & -64L;
    }

    private static void queueFloat(ChunkPipeline pipeline, AricaWriter writer, Tensor src, TensorSelection.Choice choice,
            Options options, List<TensorReport> reports) throws IOException {
        TensorInfo t = src.info();
        DType to = options.floatType() != null && t.dtype().isFloat() ? options.floatType() : t.dtype();
        pipeline.then(() -> writer.begin(t.name(), to, t.shape(), new Storage.Plain(to), options.zstdLevel()));
        if (to == t.dtype()) {
            for (MemorySegment part : src.parts()) {
                pipeline.copy(part);
            }
        } else {
            CastPipeline.queueCast(pipeline, src, to);
        }
        pipeline.then(() -> {
            AricaEntry e = writer.end();
            reports.add(new TensorReport(t.name(), t.shape(), t.dtype(), to.safetensorsName(), false, choice.reason(),
                    false, null, t.byteSize(), e.length(), e.rawLength()));
        });
    }

    /** Where a tensor's bytes come from: the checkpoint (its file locations) and the channels read positionally. */
    private record Source(Checkpoint in, SourceChannels channels) {}

    private static void queueQuantized(ChunkPipeline pipeline, AricaWriter writer, Quantizer quantizer, Tensor src,
            TensorSelection.Choice choice, Options options, List<TensorReport> reports, Source source) throws IOException {
        TensorInfo t = src.info();
        QuantLayout layout = quantizer.layout();
        DType logical = options.floatType() != null ? options.floatType() : t.dtype();
        long cols = storedCols(t, choice);
        long rows = t.elements() / cols;
        long perChunk = rowsPerChunk(cols);
        pipeline.then(() -> writer.begin(t.name(), logical, t.shape(), new Storage.Quantized(layout, choice.transposed()),
                options.zstdLevel()));
        Arena transposing = choice.transposed() ? Arena.ofShared() : null;
        MemorySegment transposed = transposing == null ? null : transposedF32(src, transposing);
        // Rows stored contiguously are read from the file into the chunk buffer (and cast there) rather than through
        // the mapping.
        FileRange range = transposed == null && t.dtype().isFloat() && SourceChannels.ENABLED
                ? source.in().location(t.name()).orElse(null) : null;
        RowReader reader = new RowReader(src, cols, range == null ? null : source.channels().of(range.file()), range);
        List<ErrorStats> parts = new ArrayList<>();
        for (long r0 = 0; r0 < rows; r0 += perChunk) {
            long first = r0;
            long n = Math.min(perChunk, rows - r0);
            ErrorStats stats = new ErrorStats();
            parts.add(stats);
            MemorySegment direct = transposed != null ? transposed.asSlice(first * cols * 4, n * cols * 4)
                    : reader.direct(first, n);
            pipeline.submit(buffer -> {
                long outBytes = layout.bytes(n, cols);
                MemorySegment out = buffer.asSlice(0, outBytes);
                long at = align(outBytes);
                MemorySegment f32 = direct;
                if (f32 == null) {
                    f32 = buffer.asSlice(at, n * cols * 4);
                    reader.readF32(first, n, f32, buffer.asSlice(castAt(layout, cols, perChunk)));
                }
                try {
                    // the whole chunk at once: GPTQ's tiles share each read of V
                    quantizer.quantizeRows(f32, out, cols, 0, n, stats, first * cols);
                } catch (QuantizationException e) {
                    throw e.withTensor(t.name(), first, cols);
                }
                return out;
            }, transposed != null ? null : direct, n * cols * t.dtype().byteSize());
        }
        pipeline.then(() -> {
            if (transposing != null) {
                transposing.close();
                src.parts().forEach(MappedMemory::release);
            } else if (reader.direct(0, rows) == null) {
                src.parts().forEach(MappedMemory::release);
            }
            AricaEntry e = writer.end();
            ErrorStats error = new ErrorStats();
            parts.forEach(error::merge);
            reports.add(new TensorReport(t.name(), t.shape(), t.dtype(), layout.describe(), true, choice.reason(),
                    cols % layout.groupSize() != 0, error, t.byteSize(), e.length(), e.rawLength()));
        });
    }

    /**
     * A tensor the source stores in {@code storage}, its stored bytes written unchanged: nothing is requantized, so the
     * report gives no error.
     */
    private static void queueKept(ChunkPipeline pipeline, AricaWriter writer, QuantizedCheckpoint in, TensorInfo t,
            Storage.Quantized storage, TensorSelection.Choice choice, Options options, List<TensorReport> reports)
            throws IOException {
        DType logical = options.floatType() != null ? options.floatType() : t.dtype();
        Arena arena = Arena.ofShared();
        MemorySegment stored = in.stored(t.name(), arena);
        pipeline.then(() -> writer.begin(t.name(), logical, t.shape(), storage, options.zstdLevel()));
        pipeline.copy(stored);
        pipeline.then(() -> {
            arena.close();
            AricaEntry e = writer.end();
            reports.add(new TensorReport(t.name(), t.shape(), t.dtype(), storage.layout().describe(), true, choice.reason(),
                    false, new ErrorStats(), stored.byteSize(), e.length(), e.rawLength()));
        });
    }

    /**
     * A GPTQ layer stored as it is quantized ({@link GptqRepacker}): its rows written chunk by chunk, each dequantized
     * again and compared with the GPTQ weight (the report shows the error: none), then a permuted layer's column order.
     */
    private static void queueRepacked(ChunkPipeline pipeline, AricaWriter writer, GptqPlanes planes, GptqRepacker.Plan plan,
            Options options, List<TensorReport> reports) throws IOException {
        GptqWeight w = planes.weight();
        TensorInfo t = w.info();
        QuantLayout layout = plan.layout();
        Quantizer quantizer = Quantizer.of(layout);
        DType logical = options.floatType() != null ? options.floatType() : t.dtype();
        long cols = w.in();
        long perChunk = rowsPerChunk(cols);
        pipeline.then(() -> writer.begin(t.name(), logical, t.shape(), new Storage.Quantized(layout, false,
                plan.order() != null), options.zstdLevel()));
        List<ErrorStats> parts = new ArrayList<>();
        for (long r0 = 0; r0 < w.out(); r0 += perChunk) {
            int first = (int) r0;
            int n = (int) Math.min(perChunk, w.out() - r0);
            ErrorStats stats = new ErrorStats();
            parts.add(stats);
            pipeline.submit(buffer -> {
                long outBytes = layout.bytes(n, cols);
                MemorySegment out = buffer.asSlice(0, outBytes);
                GptqRepacker.repackRows(planes, plan, out, first, first + n);
                int k = (int) rowsPerCheck(cols);
                MemorySegment source = buffer.asSlice(align(outBytes), k * cols * 4);
                MemorySegment check = buffer.asSlice(align(outBytes) + align(k * cols * 4), k * cols * 4);
                for (int r = 0; r < n; r += k) {
                    int m = Math.min(k, n - r);
                    GptqRepacker.storedOrderRows(planes, plan, source, first + r, first + r + m);
                    quantizer.dequantizeRows(out.asSlice(r * layout.rowBytes(cols)), check, cols, 0, m);
                    stats.add(source, check, m * cols, (first + r) * cols);
                }
                return out;
            }, null, n * cols * 4);
        }
        if (plan.order() != null) {
            pipeline.submit(buffer -> {
                MemorySegment order = buffer.asSlice(0, ColumnOrder.bytes(cols));
                plan.order().write(order);
                return order;
            }, null, 0);
        }
        pipeline.then(() -> {
            AricaEntry e = writer.end();
            ErrorStats error = new ErrorStats();
            parts.forEach(error::merge);
            reports.add(new TensorReport(t.name(), t.shape(), t.dtype(), layout.describe() + (plan.order() != null
                    ? " permuted" : ""), true, plan.reason(), cols % layout.groupSize() != 0, error,
                    w.storedBytes(), e.length(), e.rawLength()));
        });
    }

    private static ObjectNode provenance(Checkpoint in, Options options, List<FileDigest.Digest> digests) {
        ObjectNode p = Json.MAPPER.createObjectNode();
        p.put("arica_version", options.aricaVersion());
        p.put("created", Instant.now().truncatedTo(ChronoUnit.SECONDS).toString());
        p.put("command_line", options.commandLine());
        p.put("source_format", in.format());
        ArrayNode sources = p.putArray("sources");
        for (FileDigest.Digest d : digests) {
            sources.addObject().put("file", d.file().getFileName().toString()).put("bytes", d.bytes())
                    .put("sha256", d.sha256());
        }
        ObjectNode q = p.putObject("quantization");
        if (options.layout() == null && !(in instanceof GptqCheckpoint)) {
            // Blocks kept as the source stored them; each tensor's entry gives its layout.
            q.put("scheme", "as stored");
            return p;
        }
        if (options.layout() == null && in instanceof GptqCheckpoint g) {
            // The layers keep GPTQ's quantization; each tensor's entry gives its stored layout.
            q.put("scheme", "gptq");
            q.put("bits", g.gptq().bits());
            q.put("group_size", g.gptq().groupSize());
            q.put("sym", g.gptq().sym());
            q.put("desc_act", g.gptq().descAct());
            q.put("checkpoint_format", g.gptq().format().id);
            return p;
        }
        q.put("scheme", options.layout().scheme().id());
        q.put("group_size", options.layout().groupSize());
        q.put("asymmetric", options.layout().asymmetric());
        if (!options.rules().isEmpty()) {
            // Only named when given, so that files without them stay byte for byte as before.
            ArrayNode rules = q.putArray("tensor_schemes");
            options.rules().forEach(r -> rules.add(r.describe()));
        }
        if (options.method().calibrated()) {
            // Only named when calibrated, so that round-to-nearest files stay byte for byte as before.
            q.put("method", options.method().id);
            q.put("calibration", options.calibration().describe());
        }
        if (options.tuning() != null) {
            q.set("tuning", options.tuning().json());
        }
        return p;
    }
}
