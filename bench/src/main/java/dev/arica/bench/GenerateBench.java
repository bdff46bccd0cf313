package dev.arica.bench;

import dev.arica.runtime.generate.GenAiConfig;
import dev.arica.runtime.generate.Generator;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.generate.Sampler;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;

/**
 * Greedy decoding speed of an exported model in one warm JVM, as llama.cpp's llama-bench measures it:
 * warm-up generations first, then timed ones; each is a short prompt and a fixed number of new tokens
 * (no stop id), and the rate is decoding steps per second. Prints one {@code RESULT} line with the
 * median, lowest and highest rate of the timed runs and the median prompt rate.
 *
 * <pre>
 * GenerateBench DIR TOKENIZER THREADS NEW_TOKENS WARMUP RUNS [PREPACK]
 * </pre>
 */
public final class GenerateBench {

    private GenerateBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 6) {
            System.err.println("usage: GenerateBench DIR TOKENIZER THREADS NEW_TOKENS WARMUP RUNS [PREPACK]");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        Tokenizer tokenizer = Tokenizer.open(Path.of(args[1]));
        int threads = Integer.parseInt(args[2]);
        int newTokens = Integer.parseInt(args[3]);
        int warmup = Integer.parseInt(args[4]);
        int runs = Integer.parseInt(args[5]);
        boolean prepack = args.length > 6 && Boolean.parseBoolean(args[6]);
        long t0 = System.nanoTime();
        GenAiConfig config = GenAiConfig.read(dir.resolve(GenAiConfig.FILE));
        try (InferenceSession session = InferenceSession.open(dir.resolve(config.model()),
                new InferenceSession.Options(Device.CPU, threads, 0, prepack));
             OnnxDecoder decoder = new OnnxDecoder(session, config)) {
            double openMs = (System.nanoTime() - t0) / 1e6;
            Generator g = new Generator(decoder, tokenizer);
            int[] prompt = tokenizer.encode("Once upon a time", true);
            double[] decode = new double[runs];
            double[] prefill = new double[runs];
            for (int r = -warmup; r < runs; r++) {
                Generator.Result res = g.generate(prompt, new Generator.Settings(newTokens, new int[0]), Sampler.greedy(), s -> {});
                if (r >= 0) {
                    decode[r] = res.generationTokensPerSecond();
                    prefill[r] = res.promptTokensPerSecond();
                }
            }
            Arrays.sort(decode);
            Arrays.sort(prefill);
            System.out.println(String.format(Locale.ROOT,
                    "RESULT threads=%d new_tokens=%d runs=%d open_ms=%.0f decode_median=%.2f decode_min=%.2f decode_max=%.2f "
                            + "prefill_median=%.1f", threads, newTokens, runs, openMs, decode[runs / 2], decode[0],
                    decode[runs - 1], prefill[runs / 2]));
        }
    }
}
