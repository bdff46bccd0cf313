package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.cli.report.HtmlDocument;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FloatCast;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.gguf.GgufCheckpoint;
import dev.arica.formats.gptq.GptqCheckpoint;
import dev.arica.formats.gptq.GptqConfig;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.ByteSize;
import dev.arica.formats.io.ChunkPipeline;
import dev.arica.formats.io.FileDigest;
import dev.arica.formats.io.Json;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.quantize.CheckpointQuantizer.Report;
import dev.arica.quantize.CheckpointQuantizer.TensorReport;
import dev.arica.quantize.CheckpointQuantizer;
import dev.arica.quantize.ErrorStats;
import dev.arica.quantize.Method;
import dev.arica.quantize.QuantizationException;
import dev.arica.quantize.SchemeRule;
import dev.arica.quantize.TensorSelection;
import dev.arica.runtime.calibrate.LayerInputs;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.export.OnnxQuantizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code arica quantize}: a checkpoint to a quantized .arica file, or an ONNX model to a quantized ONNX model, with
 * the error of every tensor.
 */
@Command(name = "quantize", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Quantize a checkpoint into one .arica file and report the error tensor by tensor.",
                "By default the 2-D weights of the transformer layers are quantized; embeddings, the output head,",
                "norms and biases stay float. Streams: memory does not grow with the model. Written atomically.",
                "A GPTQ checkpoint without --scheme keeps its quantization: its codes, scales and zero points are",
                "stored as int4/int8 asymmetric groups with the same values, not requantized. A GGUF file keeps its",
                "Q8_0 and Q4_0 blocks byte for byte (as q8_0/q4_0) without --scheme, or with the --scheme they are in.",
                "An .onnx model (exported by PyTorch, Optimum, ...) gives an .onnx model: the weights of its MatMul and",
                "Gemm nodes run quantized by ONNX Runtime's MatMulNBits (DequantizeLinear + MatMul with --portable),",
                "Gather tables by GatherBlockQuantized with --quantize-embeddings; everything else is kept as it is."})
final class QuantizeCommand implements Callable<Integer> {

    /** Default zstd level of --compress. */
    static final int DEFAULT_ZSTD_LEVEL = 3;

    @Parameters(index = "0", paramLabel = "IN",
            description = "A .safetensors file, an HF directory (GPTQ too), a PyTorch file (torch.save), a GGUF file, a "
                    + "llama2.c .bin, or an .onnx model.")
    Path input;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT",
            description = "The .arica file to write (an .onnx file for an .onnx input, with OUT.data beside it when the "
                    + "weights are external).")
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

    @Option(names = "--method", paramLabel = "METHOD",
            description = "How codes are chosen: rtn (round to nearest, the default), search (per group the scale, and zero "
                    + "point, of least error weighted by the input channels' importance on calibration text) or gptq "
                    + "(GPTQ with the layers' input Hessians from calibration text). search and gptq write q4_0, int4 and "
                    + "int8, from a float decoder checkpoint.")
    String method;

    @Option(names = "--calibration", paramLabel = "FILE",
            description = "UTF-8 text to calibrate on, tokenized with the model's tokenizer (default: a short built-in "
                    + "English text, see docs/quantization.md).")
    Path calibrationFile;

    @Option(names = "--calibration-tokens", paramLabel = "N",
            description = "Most tokens of the calibration text used (default " + CalibrationInput.DEFAULT_TOKENS + ").")
    Integer calibrationTokens;

    @Option(names = "--tune-steps", paramLabel = "N",
            description = "After search or gptq, train the quantized projections' group scales for N steps so that the "
                    + "model's next-token distributions come closer to the float model's, on text sampled from the float "
                    + "model (end-to-end tuning, Llama-architecture decoders held in memory; see docs/quantization.md). "
                    + "Default 0: off.")
    Integer tuneSteps;

    @Option(names = "--tune-samples", paramLabel = "N",
            description = "Sequences sampled from the float model for --tune-steps, one in eight held out to choose the "
                    + "step kept (default " + CalibrationInput.DEFAULT_SAMPLES + ", each up to "
                    + CalibrationInput.SAMPLE_TOKENS + " tokens).")
    Integer tuneSamples;

    @Option(names = "--keep", paramLabel = "REGEX", description = "Keep tensors whose name matches float (repeatable).")
    List<String> keep = new ArrayList<>();

    @Option(names = "--tensor-scheme", paramLabel = "REGEX=SCHEME[:GROUP]",
            description = "Store the quantized tensors whose name matches REGEX in SCHEME instead of --scheme (with "
                    + "--asymmetric as given; int8/int4 in groups of GROUP, else of --scheme's int groups), e.g. "
                    + "'(k|v)_proj=int8' for 8-bit key and "
                    + "value projections in a 4-bit file; repeatable, the first match applies. It changes how a tensor "
                    + "is stored, not whether it is quantized.")
    List<String> tensorSchemes = new ArrayList<>();

    @Option(names = "--quantize-embeddings",
            description = "Quantize embedding tables too (of an .onnx model: the tables of its Gather nodes, by "
                    + "GatherBlockQuantized; with --dynamic or --portable in int8 per row, dequantized on load).")
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

    @Option(names = "--report", paramLabel = "FILE",
            description = "Write the per-tensor report too: FILE.html (or .htm) as one self-contained HTML page with charts, "
                    + "any other name as JSON (repeatable, e.g. one of each).")
    List<Path> reportFiles = new ArrayList<>();

    @Mixin
    TokenizerOption tokenizer;

    @Option(names = "--embedding-scheme", paramLabel = "SCHEME",
            description = ".onnx input: quantize the tables of Gather nodes in this scheme (its default group size; "
                    + "implies --quantize-embeddings), e.g. int4 tables beside int8 projections.")
    String embeddingScheme;

    @Option(names = "--portable",
            description = ".onnx input: standard DequantizeLinear + MatMul (ONNX opset 21) instead of ONNX Runtime's "
                    + "MatMulNBits.")
    boolean portable;

    @Option(names = "--dynamic",
            description = ".onnx input, --scheme int8: weights in int8 per output channel run by ONNX Runtime's "
                    + "MatMulIntegerToFloat after DynamicQuantizeLinear (activations quantized per tensor at run time, "
                    + "integer GEMM): its fastest CPU path for batches, coarser than groups; tables int8 per row.")
    boolean dynamic;

    @Option(names = "--accuracy-level", paramLabel = "N",
            description = ".onnx input: MatMulNBits' accuracy_level, 4 (default: int8 activations, ONNX Runtime's fast "
                    + "CPU path) or 0 (float32).")
    Integer accuracyLevel;

    @Option(names = "--external-data",
            description = ".onnx input: write the weights into OUT.data even when the input keeps them all inline.")
    boolean externalData;

    @Option(names = "--threads", paramLabel = "N", description = "Worker threads (default: one per core).")
    Integer threads;

    @Option(names = "--no-digest-cache",
            description = "Hash the source files even when their digest is cached (see ARICA_CACHE_DIR).")
    boolean noDigestCache;

    /** REGEX=SCHEME[:GROUP], the regex taking everything before the last '='. */
    private static final Pattern SCHEME_RULE = Pattern.compile("(.+)=([A-Za-z0-9_]+)(?::(\\d{1,4}))?");

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (input.getFileName() != null && input.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx")) {
            return quantizeOnnx();
        }
        if (portable || dynamic || accuracyLevel != null || externalData || embeddingScheme != null) {
            throw AricaException.badInput("--portable, --dynamic, --accuracy-level, --external-data and --embedding-scheme "
                    + "apply to an .onnx input");
        }
        CheckpointQuantizer.Options options = options();
        Method m = method();
        if (Files.isRegularFile(input) && AricaFile.looksLikeArica(input)) {
            throw AricaException.badInput(input + ": already an .arica file; quantize its source checkpoint, or "
                    + "'arica convert' it back to safetensors first");
        }
        Report report;
        GptqConfig gptq = null;
        LayerInputs calibration = null;
        try (Checkpoint in = Checkpoint.open(input, tokenizer.file)) {
            if (m.calibrated()) {
                CalibrationInput.checkSupported(in, input, m);
                int steps = tuneSteps == null ? 0 : tuneSteps;
                if (steps > 0) {
                    CalibrationInput.checkTunable(in, input);
                }
                CalibrationInput.Collected collected = CalibrationInput.collect(input, tokenizer.file, calibrationFile,
                        calibrationTokens == null ? CalibrationInput.DEFAULT_TOKENS : calibrationTokens,
                        steps == 0 ? 0 : tuneSamples == null ? CalibrationInput.DEFAULT_SAMPLES : tuneSamples, m,
                        options.threads(), spec.commandLine().getErr());
                calibration = collected.inputs();
                options = options.withMethod(m, calibration);
                if (steps > 0) {
                    options = CalibrationInput.tune(in, options, collected.samples(), steps, spec.commandLine().getErr());
                }
            }
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
        } finally {
            if (calibration != null) {
                calibration.close();
            }
        }
        PrintWriter out = spec.commandLine().getOut();
        printTable(out, report);
        if (!reportFiles.isEmpty()) {
            ObjectNode root = header(report);
            root.put("method", m.id);
            if (calibration != null) {
                root.put("calibration", calibration.describe());
            } else {
                root.putNull("calibration");
            }
            if (options.tuning() != null) {
                root.set("tuning", options.tuning().json());
            } else {
                root.putNull("tuning");
            }
            if (gptq != null) {
                root.put("scheme", "gptq");
                root.put("group_size", gptq.groupSize());
                root.put("asymmetric", !gptq.sym());
            } else if (options.layout() == null) {
                // A GGUF file's blocks kept: each tensor's storage says what it kept.
                root.put("scheme", "as stored");
                root.putNull("group_size");
                root.put("asymmetric", false);
            } else {
                scheme(root, options.layout());
                if (!options.rules().isEmpty()) {
                    options.rules().forEach(r -> root.withArray("tensor_schemes").add(r.describe()));
                }
            }
            root.put("compression", options.zstdLevel() == 0 ? "none" : "zstd");
            writeReport(root, report);
        }
        out.flush();
        return ExitCode.OK;
    }

    /**
     * The method of --method with its calibration options checked: calibrated methods need a scheme they write, the
     * calibration options need a calibrated method.
     */
    private Method method() {
        Method m = method == null ? Method.RTN : Method.parse(method).orElseThrow(() -> AricaException.badInput(
                "--method: unknown method '" + method + "' (expected rtn, search or gptq)"));
        if (!m.calibrated()) {
            if (calibrationFile != null || calibrationTokens != null || tuneSteps != null || tuneSamples != null) {
                throw AricaException.badInput("--calibration, --calibration-tokens, --tune-steps and --tune-samples apply "
                        + "to --method search and gptq");
            }
            return m;
        }
        if (scheme == null || Scheme.parse(scheme).filter(s -> s != Scheme.Q8_0).isEmpty()) {
            throw AricaException.badInput("--method " + m.id + " writes --scheme q4_0, int4 or int8"
                    + (scheme == null ? "; give one" : ", not " + scheme));
        }
        if (calibrationTokens != null && calibrationTokens < 2) {
            throw AricaException.badInput("--calibration-tokens: at least 2, got " + calibrationTokens);
        }
        if (tuneSteps != null && tuneSteps < 0) {
            throw AricaException.badInput("--tune-steps: at least 0, got " + tuneSteps);
        }
        if (tuneSamples != null && (tuneSteps == null || tuneSteps == 0)) {
            throw AricaException.badInput("--tune-samples applies with --tune-steps");
        }
        if (tuneSamples != null && tuneSamples < 2) {
            throw AricaException.badInput("--tune-samples: at least 2 (one is held out), got " + tuneSamples);
        }
        return m;
    }

    /** An .onnx model to an .onnx model: its MatMul/Gemm weights (and Gather tables) quantized, the rest as it is. */
    private int quantizeOnnx() throws Exception {
        if (method != null || calibrationFile != null || calibrationTokens != null || !tensorSchemes.isEmpty()
                || tuneSteps != null || tuneSamples != null) {
            throw AricaException.badInput("--method, --calibration, --calibration-tokens, --tune-steps, --tune-samples and "
                    + "--tensor-scheme apply to "
                    + "checkpoints: "
                    + input + " is an .onnx model; calibration supports " + CalibrationInput.SUPPORTED);
        }
        if (scheme == null) {
            throw AricaException.badInput("--scheme is required for an .onnx model");
        }
        if (floatType != null || compress != null || !meta.isEmpty() || quantizeHead || tokenizer.file != null) {
            throw AricaException.badInput("--float-type, --compress, --meta, --quantize-head and --tokenizer apply to "
                    + "checkpoints, not to an .onnx model (" + input + ")");
        }
        if (threads != null && threads < 1) {
            throw AricaException.badInput("--threads: must be at least 1, got " + threads);
        }
        if ((portable || dynamic) && accuracyLevel != null) {
            throw AricaException.badInput("--accuracy-level is MatMulNBits'; --portable writes DequantizeLinear + MatMul, "
                    + "--dynamic MatMulIntegerToFloat");
        }
        if (portable && dynamic) {
            throw AricaException.badInput("--portable (DequantizeLinear) and --dynamic (MatMulIntegerToFloat) exclude each "
                    + "other");
        }
        if (dynamic && (!scheme.equalsIgnoreCase("int8") || groupSize != null || asymmetric)) {
            throw AricaException.badInput("--dynamic stores int8 per output channel, symmetric: use --scheme int8 without "
                    + "--group-size and --asymmetric");
        }
        if (accuracyLevel != null && accuracyLevel != 0 && accuracyLevel != 4) {
            throw AricaException.badInput("--accuracy-level: 0 (float32) or 4 (int8 activations), got " + accuracyLevel);
        }
        if (!output.toString().toLowerCase(Locale.ROOT).endsWith(".onnx")) {
            throw AricaException.badInput("-o: an .onnx model is quantized into an .onnx file, not " + output);
        }
        QuantLayout layout = layout();
        // Tables beside int8 per channel or standard operators: int8 per row, dequantized on load (null).
        QuantLayout tables = dynamic || portable ? null : layout;
        if (embeddingScheme != null) {
            if (portable) {
                throw AricaException.badInput("--embedding-scheme needs GatherBlockQuantized; --portable stores Gather "
                        + "tables in int8 per row, dequantized by standard operators");
            }
            Scheme s = Scheme.parse(embeddingScheme).orElseThrow(() -> AricaException.badInput("--embedding-scheme: "
                    + "unknown scheme '" + embeddingScheme + "' (expected q8_0, q4_0, int8 or int4)"));
            tables = new QuantLayout(s, s.defaultGroup(), asymmetric && s.allowsAsymmetric());
        }
        boolean embeddings = quantizeEmbeddings || embeddingScheme != null;
        OnnxQuantizer.Options options = new OnnxQuantizer.Options(layout, tables, keepPatterns(), embeddings, portable,
                dynamic,
                accuracyLevel != null ? accuracyLevel : OnnxExporter.DEFAULT_ACCURACY_LEVEL, externalData,
                threads == null ? ChunkPipeline.defaultThreads() : threads);
        Report report;
        try {
            report = OnnxQuantizer.quantize(input, output, options, ProgressPrinter.forStderr(spec.commandLine().getErr()));
        } catch (QuantizationException e) {
            throw AricaException.badInput(input + ": " + e.getMessage());
        }
        PrintWriter out = spec.commandLine().getOut();
        printTable(out, report);
        if (!reportFiles.isEmpty()) {
            ObjectNode root = header(report);
            root.put("format", "onnx");
            scheme(root, dynamic ? null : layout);
            root.put("operator", portable ? "DequantizeLinear" : dynamic ? "MatMulIntegerToFloat" : "MatMulNBits");
            if (portable || dynamic) {
                root.putNull("accuracy_level");
            } else {
                root.put("accuracy_level", options.accuracyLevel());
            }
            if (embeddings) {
                scheme(root.putObject("embeddings"), tables);
            } else {
                root.putNull("embeddings");
            }
            writeReport(root, report);
        }
        out.flush();
        return ExitCode.OK;
    }

    /** Each --report file: the HTML page or the JSON object, both from {@code settings} (how it was quantized) and the report. */
    private void writeReport(ObjectNode settings, Report report) throws IOException {
        ObjectNode json = settings.deepCopy();
        tensors(json, report);
        for (Path file : reportFiles) {
            AtomicOutput.writeString(file, HtmlDocument.isHtmlName(file) ? QuantizeHtml.of(settings, report)
                    : Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
        }
    }

    private List<Pattern> keepPatterns() {
        List<Pattern> patterns = new ArrayList<>();
        for (String k : keep) {
            try {
                patterns.add(Pattern.compile(k));
            } catch (PatternSyntaxException e) {
                throw AricaException.badInput("--keep: not a regular expression: " + e.getDescription() + " in '" + k + "'");
            }
        }
        return patterns;
    }

    private CheckpointQuantizer.Options options() {
        QuantLayout layout = scheme == null ? storedAsQuantized() : layout();
        List<Pattern> patterns = keepPatterns();
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
                noDigestCache ? null : FileDigest.defaultCacheDirectory()).withRules(schemeRules(layout));
    }

    /**
     * --tensor-scheme REGEX=SCHEME[:GROUP] over {@code main}, the layout of --scheme (null without one): int8/int4 take
     * GROUP, else the main scheme's group size when it is int8/int4, else their default; --asymmetric as the main
     * scheme does.
     */
    private List<SchemeRule> schemeRules(QuantLayout main) {
        List<SchemeRule> rules = new ArrayList<>();
        for (String r : tensorSchemes) {
            Matcher m = SCHEME_RULE.matcher(r);
            if (!m.matches()) {
                throw AricaException.badInput("--tensor-scheme: expected REGEX=SCHEME or REGEX=SCHEME:GROUP, got '" + r + "'");
            }
            if (main == null) {
                throw AricaException.badInput("--tensor-scheme needs --scheme for the other tensors");
            }
            Scheme s = Scheme.parse(m.group(2)).orElseThrow(() -> AricaException.badInput("--tensor-scheme " + r
                    + ": unknown scheme '" + m.group(2) + "' (expected q8_0, q4_0, int8 or int4)"));
            if (s == Scheme.Q8_0 && method != null && Method.parse(method).filter(Method::calibrated).isPresent()) {
                throw AricaException.badInput("--tensor-scheme " + r + ": --method " + method + " writes q4_0, int4 "
                        + "and int8, not q8_0");
            }
            Pattern p;
            try {
                p = Pattern.compile(m.group(1));
            } catch (PatternSyntaxException e) {
                throw AricaException.badInput("--tensor-scheme: not a regular expression: " + e.getDescription() + " in '"
                        + m.group(1) + "'");
            }
            // Without GROUP an int rule takes the main scheme's groups when those are int groups too.
            int group = m.group(3) != null ? Integer.parseInt(m.group(3)) : s.fixedGroup() != 0 ? s.fixedGroup()
                    : main.scheme().fixedGroup() == 0 ? main.groupSize() : s.defaultGroup();
            try {
                rules.add(new SchemeRule(p, new QuantLayout(s, group, asymmetric && s.allowsAsymmetric())));
            } catch (IllegalArgumentException e) {
                throw AricaException.badInput("--tensor-scheme " + r + ": " + e.getMessage());
            }
        }
        return rules;
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

    /** The report's first key. */
    private static ObjectNode header(Report r) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("output", r.output().toString());
        return root;
    }

    /** scheme, group_size, asymmetric of {@code layout}; null: int8 per channel (per row of [N, K]), group_size null. */
    private static void scheme(ObjectNode root, QuantLayout layout) {
        if (layout == null) {
            root.put("scheme", "int8");
            root.putNull("group_size");
            root.put("asymmetric", false);
            root.put("per_channel", true);
            return;
        }
        root.put("scheme", layout.scheme().id());
        root.put("group_size", layout.groupSize());
        root.put("asymmetric", layout.asymmetric());
    }

    /** The report's tensors and totals, after the keys saying how it was quantized. */
    static void tensors(ObjectNode root, Report r) {
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

    static double ratio(long before, long after) {
        return after == 0 ? 1.0 : (double) before / after;
    }

    static String shape(long[] shape) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < shape.length; i++) {
            b.append(i == 0 ? "" : "x").append(shape[i]);
        }
        return shape.length == 0 ? "scalar" : b.toString();
    }
}
