package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Json;
import dev.arica.runtime.generate.Generator;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.generate.Sampler;
import dev.arica.runtime.ort.ExecutionProvider;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica generate}: text from a model through ONNX Runtime, exporting it to ONNX first when needed. */
@Command(name = "generate", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Generate text after a prompt with ONNX Runtime (greedy unless --temperature is above 0).",
                "MODEL is an exported directory (model.onnx + arica-genai.json), an HF Llama directory, a llama2.c .bin "
                        + "or an .arica file (its quantized weights run as stored); all but the first are exported to ONNX "
                        + "once and kept in a cache keyed by their content. The text is printed as it is produced; speed "
                        + "and the device used go to stderr."})
final class GenerateCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL",
            description = "Exported ONNX directory (or its model.onnx), HF Llama directory, llama2.c .bin, or .arica file.")
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

    @Mixin
    RunOptions runOptions;

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
        runOptions.check();
        PrintWriter err = spec.commandLine().getErr();
        try (ModelInput input = ModelInput.resolve(model, runOptions.tokenizerFile, runOptions.cache(), runOptions.exportOptions(), err)) {
            int[] promptIds = input.encode(prompt);
            try (InferenceSession session = InferenceSession.open(input.onnxFile(),
                    input.sessionOptions(runOptions.device, runOptions.intraOpThreads()));
                 OnnxDecoder decoder = new OnnxDecoder(session, input.config())) {
                err.println("arica: device " + name(session.provider())
                        + (session.providerNote().isEmpty() ? "" : " (CUDA: " + session.providerNote() + ")"));
                err.flush();
                return generate(decoder, input.tokenizer(), promptIds, sampling, name(session.provider()));
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
