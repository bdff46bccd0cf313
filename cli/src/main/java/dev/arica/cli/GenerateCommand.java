package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.Json;
import dev.arica.formats.lora.LoraAdapter;
import dev.arica.runtime.generate.Generator;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.generate.Sampler;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica generate}: text from a model through ONNX Runtime, exporting it to ONNX first when needed. */
@Command(name = "generate", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Generate text after a prompt (--prompt TEXT, or --ids LIST of token ids) with ONNX Runtime (greedy "
                        + "unless --temperature is above 0).",
                "MODEL is an exported directory (model.onnx + arica-genai.json), an HF Llama directory, a llama2.c .bin, "
                        + "a GGUF file (its Q8_0/Q4_0 weights run as stored) or an .arica file (its quantized weights run as stored); all but the first are exported to ONNX "
                        + "once and kept in a cache keyed by their content. The text is printed as it is produced; speed "
                        + "and the device used go to stderr."})
final class GenerateCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL",
            description = "Exported ONNX directory (or its model.onnx), HF Llama directory, llama2.c .bin, GGUF or .arica file.")
    Path model;

    /** What to continue: text, or token ids as they are. */
    static final class Prompt {
        @Option(names = "--prompt", required = true, paramLabel = "TEXT",
                description = "Text to continue (encoded with the beginning-of-sequence token first); may be empty.")
        String text;

        @Option(names = "--ids", required = true, paramLabel = "LIST",
                description = "The prompt as token ids separated by commas, e.g. 1,403,407, used as they are (no "
                        + "beginning-of-sequence id added); the model needs no tokenizer, and without one the generated ids "
                        + "are printed instead of text.")
        String ids;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Prompt prompt;

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
    AdapterOption adapterOption;

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
        int[] givenIds = prompt.ids == null ? null : TokenIds.parse("--ids", prompt.ids);
        PrintWriter err = spec.commandLine().getErr();
        try (LoraAdapter adapter = adapterOption.open();
                ModelInput input = runOptions.resolve(model, givenIds == null, adapter, err)) {
            int[] promptIds = givenIds == null ? input.encode(prompt.text) : TokenIds.check("--ids", givenIds, input.config());
            try (OnnxDecoder decoder = runOptions.decoder(input, runOptions.device)) {
                RunOptions.printDevice(decoder.session(), err);
                return generate(decoder, input.tokenizer().orElse(null), promptIds, sampling,
                        RunOptions.deviceName(decoder.session()));
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

    /** Generates after {@code promptIds}; without a tokenizer the generated ids are streamed instead of text. */
    private int generate(OnnxDecoder decoder, Tokenizer tokenizer, int[] promptIds, Sampler.Settings sampling, String device)
            throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        StringBuilder text = new StringBuilder();
        int[] idsPrinted = {0};
        Generator generator = tokenizer == null ? new Generator(decoder) : new Generator(decoder, tokenizer);
        Generator.Result r = generator.generate(promptIds,
                new Generator.Settings(maxNewTokens, decoder.config().eosTokenIds()), new Sampler(sampling), id -> {
                    if (!json && tokenizer == null) {
                        out.print((idsPrinted[0]++ == 0 ? "" : ",") + id);
                        out.flush();
                    }
                }, piece -> {
                    text.append(piece);
                    if (!json) {
                        out.print(piece);
                        out.flush();
                    }
                });
        if (json) {
            ObjectNode o = Json.MAPPER.createObjectNode();
            o.put("prompt", prompt.text);
            TokenIds.add(o.putArray("prompt_ids"), promptIds);
            TokenIds.add(o.putArray("ids"), r.ids());
            if (tokenizer == null) {
                o.putNull("text");
            } else {
                o.put("text", text.toString());
            }
            o.put("generated_tokens", r.generatedTokens());
            o.put("stop", switch (r.stop()) {
                case STOP_TOKEN -> "eos";
                case MAX_TOKENS -> "max_new_tokens";
                case CONTEXT_FULL -> "context_full";
            });
            // ids exclude the stop token, as the text does; a reference that counts it (transformers) reads it here.
            if (r.stop() == Generator.Stop.STOP_TOKEN) {
                o.put("stop_id", r.stopToken());
            } else {
                o.putNull("stop_id");
            }
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
}
