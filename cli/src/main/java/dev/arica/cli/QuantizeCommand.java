package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FloatCast;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.gguf.GgufCheckpoint;
import dev.arica.formats.gptq.GptqCheckpoint;
import dev.arica.formats.gptq.GptqConfig;
import dev.arica.formats.io.ByteSize;
import dev.arica.formats.io.ChunkPipeline;
import dev.arica.formats.io.FileDigest;
import dev.arica.formats.io.Json;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.quantize.CheckpointQuantizer;
import dev.arica.quantize.CheckpointQuantizer.Report;
import dev.arica.quantize.CheckpointQuantizer.TensorReport;
import dev.arica.quantize.ErrorStats;
import dev.arica.quantize.QuantizationException;
import dev.arica.quantize.TensorSelection;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica quantize}: a checkpoint to a quantized .arica file, with the error of every tensor. */
@Command(name = "quantize", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Quantize a checkpoint into one .arica file and report the error tensor by tensor.",
                "By default the 2-D weights of the transformer layers are quantized; embeddings, the output head,",
                "norms and biases stay float. Streams: memory does not grow with the model. Written atomically.",
                "A GPTQ checkpoint without --scheme keeps its quantization: its codes, scales and zero points are",
                "stored as int4/int8 asymmetric groups with the same values, not requantized. A GGUF file keeps its",
                "Q8_0 and Q4_0 blocks byte for byte (as q8_0/q4_0) without --scheme, or with the --scheme they are in."})
final class QuantizeCommand implements Callable<Integer> {

    /** Default zstd level of --compress. */
    static final int DEFAULT_ZSTD_LEVEL = 3;

    @Parameters(index = "0", paramLabel = "IN",
            description = "A .safetensors file, an HF directory (GPTQ too), a PyTorch file (torch.save), a GGUF file or a "
                    + "llama2.c .bin.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT.arica", description = "The .arica file to write.")
    Path output;

    @Option(names = "--scheme", paramLabel = "SCHEME",
            description = "q8_0, q4_0 (GGML blocks of 32), int8 or int4 (groups of --group-size). Required, except for "
                    + "a GPTQ checkpoint, stored as GPTQ quantized it when it is absent, and a GGUF file, whose Q8_0 and "
                    + "Q4_0 blocks are then kept (its other tensors stored as floats).")
    String scheme;

    @Option(names = "--group-size", paramLabel = "N",
            description = "Group size of int8/int4: a power of two from 16 to 256 (default 128 for int8, 32 for int4).")
    Integer groupSize;

    @Option(names = "--asymmetric", description = "int8/int4: min/max scaling with a zero point per group.")
    boolean asymmetric;

    @Option(names = "--keep", paramLabel = "REGEX", description = "Keep tensors whose name matches float (repeatable).")
    List<String> keep = new ArrayList<>();

    @Option(names = "--quantize-embeddings", description = "Quantize embedding tables too.")
    boolean quantizeEmbeddings;

    @Option(names = "--quantize-head", description = "Quantize the output projection (lm_head) too.")
    boolean quantizeHead;

    @Option(names = "--float-type", paramLabel = "TYPE", description = "Cast the tensors kept float to f32, f16 or bf16.")
    ConvertCommand.FloatType floatType;

    @Option(names = "--compress", arity = "0..1", paramLabel = "LEVEL", fallbackValue = "" + DEFAULT_ZSTD_LEVEL,
            description = "zstd-compress every tensor, at LEVEL 1..22 (default " + DEFAULT_ZSTD_LEVEL + ").")
    Integer compress;

    @Option(names = "--meta", paramLabel = "KEY=VALUE", description = "Free-form metadata stored in the file (repeatable).")
    Map<String, String> meta = new LinkedHashMap<>();

    @Option(names = "--report", paramLabel = "FILE.json", description = "Write the per-tensor report as JSON too.")
    Path reportFile;

    @Mixin
    TokenizerOption tokenizer;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: one per core).")
    Integer threads;

    @Option(names = "--no-digest-cache",
            description = "Hash the source files even when their digest is cached (see ARICA_CACHE_DIR).")
    boolean noDigestCache;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CheckpointQuantizer.Options options = options();
        if (Files.isRegularFile(input) && AricaFile.looksLikeArica(input)) {
            throw AricaException.badInput(input + ": already an .arica file; quantize its source checkpoint, or "
                    + "'arica convert' it back to safetensors first");
        }
        Report report;
        GptqConfig gptq = null;
        try (Checkpoint in = Checkpoint.open(input, tokenizer.file)) {
            if (options.layout() == null) {
                if (in instanceof GptqCheckpoint g) {
                    gptq = g.gptq();
                } else if (!(in instanceof GgufCheckpoint)) {
                    throw AricaException.badInput("--scheme is required: " + input + " is not a GPTQ checkpoint or a "
                            + "GGUF file (only those are stored as they are quantized)");
                }
            }
            report = CheckpointQuantizer.quantize(in, output, options, ProgressPrinter.forStderr(spec.commandLine().getErr()));
        } catch (QuantizationException | FloatCast.UnsupportedCastException e) {
            throw AricaException.badInput(input + ": " + e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        printTable(out, report);
        if (reportFile != null) {
            dev.arica.formats.io.AtomicOutput.writeString(reportFile, Json.MAPPER.writerWithDefaultPrettyPrinter()
                    .writeValueAsString(json(report, options, gptq)) + "\n");
        }
        out.flush();
        return ExitCode.OK;
    }

    private CheckpointQuantizer.Options options() {
        QuantLayout layout = scheme == null ? storedAsQuantized() : layout();
        List<Pattern> patterns = new ArrayList<>();
        for (String k : keep) {
            try {
                patterns.add(Pattern.compile(k));
            } catch (PatternSyntaxException e) {
                throw AricaException.badInput("--keep: not a regular expression: " + e.getDescription() + " in '" + k + "'");
            }
        }
        if (compress != null && (compress < 1 || compress > 22)) {
            throw AricaException.badInput("--compress: zstd level must be 1..22, got " + compress);
        }
        if (threads != null && threads < 1) {
            throw AricaException.badInput("--threads: must be at least 1, got " + threads);
        }
        return new CheckpointQuantizer.Options(layout, new TensorSelection(patterns, quantizeEmbeddings, quantizeHead),
                floatType == null ? null : floatType.dtype, compress == null ? 0 : compress, meta, Cli.version(),
                "arica " + String.join(" ", spec.commandLine().getParseResult().originalArgs()),
                threads == null ? ChunkPipeline.defaultThreads() : threads,
                noDigestCache ? null : FileDigest.defaultCacheDirectory());
    }

    /** The layout of --scheme, --group-size and --asymmetric. */
    private QuantLayout layout() {
        Scheme s = Scheme.parse(scheme).orElseThrow(() -> AricaException.badInput(
                "--scheme: unknown scheme '" + scheme + "' (expected q8_0, q4_0, int8 or int4)"));
        try {
            return new QuantLayout(s, groupSize != null ? groupSize : s.defaultGroup(), asymmetric);
        } catch (IllegalArgumentException e) {
            throw AricaException.badInput((groupSize != null && s.fixedGroup() == 0 ? "--group-size: " : "")
                    + e.getMessage());
        }
    }

    /**
     * No --scheme: a GPTQ checkpoint's or a GGUF file's own quantization (null layout), which the options choosing tensors
     * do not change.
     */
    private QuantLayout storedAsQuantized() {
        if (groupSize != null || asymmetric || !keep.isEmpty() || quantizeEmbeddings || quantizeHead) {
            throw AricaException.badInput("--group-size, --asymmetric, --keep, --quantize-embeddings and --quantize-head "
                    + "apply to --scheme; without it a GPTQ checkpoint or a GGUF file keeps its own quantization");
        }
        return null;
    }

    static void printTable(PrintWriter out, Report r) {
        List<TensorReport> ts = r.tensors();
        int nameWidth = Math.max(6, ts.stream().mapToInt(t -> t.name().length()).max().orElse(6));
        int storageWidth = Math.max(7, ts.stream().mapToInt(t -> t.storage().length()).max().orElse(7));
        int shapeWidth = Math.max(5, ts.stream().mapToInt(t -> shape(t.shape()).length()).max().orElse(5));
        String fmt = "%-" + nameWidth + "s  %-" + storageWidth + "s  %-" + shapeWidth + "s  %8s  %10s  %10s  %23s  %s%n";
        out.printf(Locale.ROOT, fmt, "TENSOR", "STORAGE", "SHAPE", "SNR dB", "RMSE", "MAX|ERR|", "BYTES BEFORE -> AFTER", "WHY");
        for (TensorReport t : ts) {
            ErrorStats e = t.error();
            String bytes = ByteSize.format(t.sourceBytes()) + " -> " + ByteSize.format(t.storedBytes());
            String why = t.reason() + (t.padded() ? "; last group padded" : "")
                    + (t.storedBytes() != t.rawBytes() ? String.format(Locale.ROOT, "; zstd %.2fx", ratio(t.rawBytes(), t.storedBytes())) : "");
            out.printf(Locale.ROOT, fmt, t.name(), t.storage(), shape(t.shape()), e == null ? "-" : db(e.snrDb()),
                    e == null ? "-" : String.format(Locale.ROOT, "%.3e", e.rmse()),
                    e == null ? "-" : String.format(Locale.ROOT, "%.3e", e.maxAbsError()), bytes, why);
        }
        out.printf(Locale.ROOT, "total: %d tensors, %d quantized; %s -> %s (%.2fx smaller), file %s; SNR mean %s dB, "
                + "min %s dB%n", ts.size(), r.quantizedCount(), ByteSize.format(r.sourceBytes()),
                ByteSize.format(r.storedBytes()), ratio(r.sourceBytes(), r.storedBytes()), ByteSize.format(r.fileBytes()),
                db(r.meanSnrDb()), db(r.minSnrDb()));
        out.printf(Locale.ROOT, "wrote %s%n", r.output());
    }

    /**
     * The report as JSON; {@code gptq}: a GPTQ checkpoint's quantization when it was kept (no --scheme), else null. Without
     * a scheme and GPTQ, the scheme is "as stored": each tensor's storage says what it kept.
     */
    static ObjectNode json(Report r, CheckpointQuantizer.Options o, GptqConfig gptq) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("output", r.output().toString());
        if (gptq != null) {
            root.put("scheme", "gptq");
            root.put("group_size", gptq.groupSize());
            root.put("asymmetric", !gptq.sym());
        } else if (o.layout() == null) {
            root.put("scheme", "as stored");
            root.putNull("group_size");
            root.put("asymmetric", false);
        } else {
            root.put("scheme", o.layout().scheme().id());
            root.put("group_size", o.layout().groupSize());
            root.put("asymmetric", o.layout().asymmetric());
        }
        root.put("compression", o.zstdLevel() == 0 ? "none" : "zstd");
        ArrayNode tensors = root.putArray("tensors");
        for (TensorReport t : r.tensors()) {
            ObjectNode n = tensors.addObject();
            n.put("name", t.name());
            ArrayNode shape = n.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            n.put("source_dtype", t.sourceDtype().safetensorsName());
            n.put("storage", t.storage());
            n.put("quantized", t.quantized());
            n.put("reason", t.reason());
            n.put("padded", t.padded());
            putError(n, t.error());
            n.put("bytes_before", t.sourceBytes());
            n.put("bytes_after", t.storedBytes());
            n.put("raw_bytes", t.rawBytes());
            n.put("compression_ratio", ratio(t.rawBytes(), t.storedBytes()));
        }
        ObjectNode totals = root.putObject("totals");
        totals.put("tensors", r.tensors().size());
        totals.put("quantized", r.quantizedCount());
        totals.put("bytes_before", r.sourceBytes());
        totals.put("bytes_after", r.storedBytes());
        totals.put("file_bytes", r.fileBytes());
        totals.put("size_ratio", ratio(r.sourceBytes(), r.storedBytes()));
        putDb(totals, "mean_snr_db", r.meanSnrDb());
        putDb(totals, "min_snr_db", r.minSnrDb());
        putError(totals.putObject("overall"), r.quantizedCount() == 0 ? null : r.overall());
        return root;
    }

    private static void putError(ObjectNode n, ErrorStats e) {
        if (e == null) {
            n.putNull("snr_db");
            n.putNull("rmse");
            n.putNull("max_abs_error");
            return;
        }
        putDb(n, "snr_db", e.snrDb());
        n.put("rmse", e.rmse());
        n.put("max_abs_error", e.maxAbsError());
        n.put("max_abs_error_index", e.maxAbsErrorIndex());
    }

    /** JSON has no infinity: an exact tensor (no error at all) has a null SNR. */
    private static void putDb(ObjectNode n, String key, double db) {
        if (Double.isFinite(db)) {
            n.put(key, db);
        } else {
            n.putNull(key);
        }
    }

    private static String db(double v) {
        return Double.isNaN(v) ? "-" : Double.isInfinite(v) ? (v > 0 ? "exact" : "-inf") : String.format(Locale.ROOT, "%.2f", v);
    }

    private static double ratio(long before, long after) {
        return after == 0 ? 1.0 : (double) before / after;
    }

    private static String shape(long[] shape) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            b.append(i == 0 ? "" : "x").append(shape[i]);
        }
        return shape.length == 0 ? "scalar" : b.toString();
    }
}
