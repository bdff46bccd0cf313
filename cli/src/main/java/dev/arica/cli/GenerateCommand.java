package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FileDigest;
import dev.arica.formats.Json;
import dev.arica.formats.llama2c.Llama2cCheckpoint;
import dev.arica.runtime.export.LlamaOnnxExporter;
import dev.arica.runtime.generate.GenAiConfig;
import dev.arica.runtime.generate.Generator;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.generate.OnnxExportCache;
import dev.arica.runtime.generate.Sampler;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.ExecutionProvider;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica generate}: text from a model through ONNX Runtime, exporting it to ONNX first when needed. */
@Command(name = "generate", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Generate text after a prompt with ONNX Runtime (greedy unless --temperature is above 0).",
                "MODEL is an exported directory (model.onnx + arica-genai.json), an HF Llama directory or a llama2.c .bin;",
                "the last two are exported to ONNX once and kept in a cache keyed by their content.",
                "The text is printed as it is produced; speed and the device used go to stderr."})
final class GenerateCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL",
            description = "Exported ONNX directory (or its model.onnx), HF Llama directory, or llama2.c .bin.")
    Path model;

    @Option(names = "--prompt", required = true, paramLabel = "TEXT",
            description = "Text to continue (encoded with the beginning-of-sequence token first); may be empty.")
    String prompt;

    @Option(names = "--max-new-tokens", defaultValue = "256", paramLabel = "N",
            description = "Most tokens to generate, the prompt not counted; generation also ends at an end-of-sequence "
                    + "id and when the context is full (default: ${DEFAULT-VALUE}).")
    int maxNewTokens;

    @Option(names = "--temperature", defaultValue = "0", paramLabel = "T",
            description = "0: greedy (the most likely token, deterministic); above 0: sample from the softmax at T "
                    + "(default: ${DEFAULT-VALUE}).")
    double temperature;

    @Option(names = "--top-k", defaultValue = "0", paramLabel = "K",
            description = "Sample among the K most likely tokens only; 0: all (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", defaultValue = "1", paramLabel = "P",
            description = "Sample from the smallest set of most likely tokens whose probability reaches P, in (0, 1]; "
                    + "1: all (default: ${DEFAULT-VALUE}).")
    double topP;

    @Option(names = "--seed", paramLabel = "S",
            description = "Seed of the sampler: the same seed and options give the same tokens (default: random, shown "
                    + "on stderr when sampling).")
    Long seed;

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEVICE",
            description = "auto (CUDA when usable, else the CPU), cuda or cpu (default: ${DEFAULT-VALUE}).")
    Device device;

    @Option(names = "--threads", paramLabel = "N",
            description = "ONNX Runtime intra-op threads (default: the cores available to the JVM).")
    Integer threads;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "Tokenizer (tokenizer.json or a llama2.c tokenizer .bin) instead of the model's own; a llama2.c "
                    + ".bin otherwise needs tokenizer.bin or tok<vocab>.bin beside it.")
    Path tokenizerFile;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Where on-the-fly exports and file digests are kept (default: $ARICA_CACHE_DIR, else "
                    + "$XDG_CACHE_HOME/arica, else ~/.cache/arica).")
    Path cacheDir;

    @Option(names = "--no-cache", description = "Export to a temporary directory, deleted at the end, instead of the cache.")
    boolean noCache;

    @Option(names = "--json", description = "Print one JSON object at the end instead of streaming the text.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        Sampler.Settings sampling = sampling();
        if (maxNewTokens < 0) {
            throw AricaException.badInput("--max-new-tokens must be >= 0, not " + maxNewTokens);
        }
        if (threads != null && threads < 1) {
            throw AricaException.badInput("--threads must be at least 1, not " + threads);
        }
        if (noCache && cacheDir != null) {
            throw AricaException.badInput("--no-cache and --cache-dir exclude each other");
        }
        PrintWriter err = spec.commandLine().getErr();
        try (OnnxExportCache.Entry entry = exportedDirectory(err)) {
            Path dir = entry.directory();
            GenAiConfig config = GenAiConfig.read(dir.resolve(GenAiConfig.FILE));
            Tokenizer tokenizer = tokenizer(dir, config);
            int[] promptIds = encode(tokenizer, config);
            int intraOp = threads != null ? threads : Runtime.getRuntime().availableProcessors();
            try (InferenceSession session = InferenceSession.open(dir.resolve(config.model()),
                    new InferenceSession.Options(device, intraOp, 0));
                 OnnxDecoder decoder = new OnnxDecoder(session, config)) {
                err.println("arica: device " + name(session.provider())
                        + (session.providerNote().isEmpty() ? "" : " (CUDA: " + session.providerNote() + ")"));
                err.flush();
                return generate(decoder, tokenizer, promptIds, sampling, name(session.provider()));
            }
        }
    }

    private Sampler.Settings sampling() {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw AricaException.badInput("--temperature must be a finite number >= 0, not " + temperature);
        }
        if (topK < 0) {
            throw AricaException.badInput("--top-k must be >= 0 (0: no limit), not " + topK);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw AricaException.badInput("--top-p must be in (0, 1], not " + topP);
        }
        long s = seed != null ? seed : ThreadLocalRandom.current().nextLong();
        return new Sampler.Settings(temperature, topK, topP, s);
    }

    private boolean greedy(Sampler.Settings s) {
        return s.temperature() == 0 || s.topK() == 1;
    }

    /** MODEL as an exported directory: itself when it is one, else its export from the cache (made now if needed). */
    private OnnxExportCache.Entry exportedDirectory(PrintWriter err) throws IOException {
        Path dir = Files.isRegularFile(model) && model.getFileName().toString().endsWith(".onnx")
                ? model.toAbsolutePath().getParent() : model;
        if (Files.isDirectory(dir) && Files.isRegularFile(dir.resolve(GenAiConfig.FILE))) {
            return new OnnxExportCache.Entry(dir, null, false, java.time.Duration.ZERO, null);
        }
        if (dir != model) {
            throw AricaException.badInput(model + ": no " + GenAiConfig.FILE + " beside it; give the directory arica "
                    + "export-onnx wrote, or the checkpoint to export");
        }
        if (Files.isRegularFile(model) && model.getFileName().toString().endsWith(".arica")) {
            throw AricaException.badInput(model + ": generate does not run .arica files yet; convert it first "
                    + "(arica convert " + model + " -o DIR) and generate from DIR");
        }
        OnnxExportCache cache = noCache ? OnnxExportCache.none()
                : OnnxExportCache.at(cacheDir != null ? cacheDir : FileDigest.defaultCacheDirectory());
        try (Checkpoint in = Checkpoint.open(model, tokenizerFile)) {
            if (tokenizerFile == null && !hasTokenizer(in)) {
                throw AricaException.badInput(model + ": no tokenizer found" + (in instanceof Llama2cCheckpoint l
                        ? " (looked for tokenizer.bin and tok" + l.header().vocab() + ".bin beside it)"
                        : " (looked for " + Tokenizer.HF_FILE + " and " + Llama2cCheckpoint.TOKENIZER_NAME + ")")
                        + "; give one with --tokenizer FILE");
            }
            OnnxExportCache.Entry e = cache.export(in, LlamaOnnxExporter.Options.defaults(), "arica " + Cli.version(),
                    ProgressPrinter.forStderr(err));
            if (e.exported()) {
                err.printf(Locale.ROOT, "arica: exported %s to ONNX in %.1f s (%s)%n", model, e.took().toNanos() / 1e9,
                        cache.root() == null ? "temporary, --no-cache" : "cached in " + e.directory());
            }
            return e;
        }
    }

    private static boolean hasTokenizer(Checkpoint in) {
        return in.auxFiles().stream().map(AuxFile::name)
                .anyMatch(n -> n.equals(Tokenizer.HF_FILE) || n.equals(Llama2cCheckpoint.TOKENIZER_NAME));
    }

    private Tokenizer tokenizer(Path dir, GenAiConfig config) throws IOException {
        if (tokenizerFile != null) {
            return Tokenizer.open(tokenizerFile);
        }
        if (config.tokenizer() != null) {
            if (!Files.isRegularFile(dir.resolve(config.tokenizer()))) {
                throw AricaException.badInput(dir + ": its tokenizer " + config.tokenizer() + " (named in " + GenAiConfig.FILE
                        + ") is missing; give one with --tokenizer FILE");
            }
            return Tokenizer.open(dir.resolve(config.tokenizer()));
        }
        if (!Files.isRegularFile(dir.resolve(Tokenizer.HF_FILE)) && !Files.isRegularFile(dir.resolve(Llama2cCheckpoint.TOKENIZER_NAME))) {
            throw AricaException.badInput(dir + ": no tokenizer (looked for " + Tokenizer.HF_FILE + " and "
                    + Llama2cCheckpoint.TOKENIZER_NAME + "); give one with --tokenizer FILE");
        }
        return Tokenizer.open(dir);
    }

    private int[] encode(Tokenizer tokenizer, GenAiConfig config) {
        int[] ids = tokenizer.encode(prompt, true);
        if (ids.length == 0) {
            throw AricaException.badInput("the prompt is empty and the tokenizer has no beginning-of-sequence token: "
                    + "give some text");
        }
        if (config.contextLength() > 0 && ids.length > config.contextLength()) {
            throw AricaException.badInput("the prompt is " + ids.length + " tokens, longer than the model's context of "
                    + config.contextLength());
        }
        for (int id : ids) {
            if (id >= config.vocabSize()) {
                throw AricaException.badInput("the tokenizer gives id " + id + ", outside the model's vocabulary of "
                        + config.vocabSize() + " (a tokenizer of another model?)");
            }
        }
        return ids;
    }

    private int generate(OnnxDecoder decoder, Tokenizer tokenizer, int[] promptIds, Sampler.Settings sampling, String device)
            throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        StringBuilder text = new StringBuilder();
        Generator.Result r = new Generator(decoder, tokenizer).generate(promptIds,
                new Generator.Settings(maxNewTokens, decoder.config().eosTokenIds()), new Sampler(sampling), piece -> {
                    text.append(piece);
                    if (!json) {
                        out.print(piece);
                        out.flush();
                    }
                });
        if (json) {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("prompt", prompt);
            ints(o.putArray("prompt_ids"), promptIds);
            ints(o.putArray("ids"), r.ids());
            o.put("text", text.toString());
            o.put("generated_tokens", r.generatedTokens());
            o.put("stop", switch (r.stop()) {
                case STOP_TOKEN -> "eos";
                case MAX_TOKENS -> "max_new_tokens";
                case CONTEXT_FULL -> "context_full";
            });
            rate(o, "prompt_tokens_per_second", r.promptTokensPerSecond());
            rate(o, "tokens_per_second", r.generationTokensPerSecond());
            o.put("device", device);
            if (greedy(sampling)) {
                o.putNull("seed");
            } else {
                o.put("seed", sampling.seed());
            }
            out.println(Json.MAPPER.writeValueAsString(o));
        } else {
            out.println();
        }
        out.flush();
        String stop = switch (r.stop()) {
            case STOP_TOKEN -> "stopped at end-of-sequence id " + r.stopToken();
            case MAX_TOKENS -> "stopped at --max-new-tokens";
            case CONTEXT_FULL -> "stopped with the context full (" + decoder.contextLength() + " positions)";
        };
        err.println(String.format(Locale.ROOT, "arica: prompt %d tokens at %s tok/s, generated %d tokens at %s tok/s, %s%s",
                r.promptTokens(), rate(r.promptTokensPerSecond()), r.generatedTokens(), rate(r.generationTokensPerSecond()),
                stop, greedy(sampling) ? "" : "; seed " + sampling.seed()));
        err.flush();
        return ExitCode.OK;
    }

    private static void ints(ArrayNode a, int[] values) {
        for (int v : values) {
            a.add(v);
        }
    }

    /** A rate, or null when there was nothing to time. */
    private static void rate(ObjectNode o, String key, double perSecond) {
        if (Double.isFinite(perSecond)) {
            o.put(key, Math.round(perSecond * 10) / 10.0);
        } else {
            o.putNull(key);
        }
    }

    private static String rate(double perSecond) {
        return Double.isFinite(perSecond) ? String.format(Locale.ROOT, "%.1f", perSecond) : "-";
    }

    private static String name(ExecutionProvider p) {
        return p.name().toLowerCase(Locale.ROOT);
    }
}
