package dev.arica.runtime.generate;

import dev.arica.runtime.tokenizer.TokenTextStream;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.IntConsumer;

/**
 * The generation loop: the prompt in one forward pass (prefill), then one token per step, each fed alone
 * while the decoder keeps the cache, until a stop id, the token budget or the context length. Text is
 * handed to a sink as soon as a token completes it.
 */
public final class Generator {

    /** Why generation ended. */
    public enum Stop { STOP_TOKEN, MAX_TOKENS, CONTEXT_FULL }

    /** At most {@code maxNewTokens} new tokens; any of {@code stopIds} ends generation (and is not kept). */
    public record Settings(int maxNewTokens, int[] stopIds) {
        public Settings {
            if (maxNewTokens < 0) {
                throw new IllegalArgumentException("maxNewTokens " + maxNewTokens);
            }
            stopIds = stopIds.clone();
        }

        @Override
        public int[] stopIds() {
            return stopIds.clone();
        }

        boolean stops(int id) {
            for (int s : stopIds) {
                if (s == id) {
                    return true;
                }
            }
            return false;
        }
    }

    /**
     * What a generation produced and how fast: prefill covers the prompt, decode every step after it, in
     * which {@code decodeSteps} tokens were fed (one fewer than generated unless a stop id ended it).
     */
    public record Result(int[] ids, int promptTokens, int generatedTokens, Stop stop, int stopToken,
                         Duration prefill, Duration decode, int decodeSteps) {
        public Result {
            ids = ids.clone();
        }

        @Override
        public int[] ids() {
            return ids.clone();
        }

        /** The generated ids alone. */
        public int[] generatedIds() {
            return Arrays.copyOfRange(ids, promptTokens, ids.length);
        }

        public double promptTokensPerSecond() {
            return perSecond(promptTokens, prefill);
        }

        /** Decoding steps per second, as llama.cpp's eval rate counts them: forward passes of one token. */
        public double generationTokensPerSecond() {
            return perSecond(decodeSteps, decode);
        }

        private static double perSecond(int tokens, Duration d) {
            return d.isZero() ? Double.NaN : tokens / (d.toNanos() / 1e9);
        }
    }

    private final Decoder decoder;
    private final Tokenizer tokenizer;

    public Generator(Decoder decoder, Tokenizer tokenizer) {
        this.decoder = decoder;
        this.tokenizer = Objects.requireNonNull(tokenizer, "tokenizer");
    }

    /** Generates ids alone: the sink of {@link #generate} gets no text. */
    public Generator(Decoder decoder) {
        this.decoder = decoder;
        this.tokenizer = null;
    }

    /**
     * Generates after {@code prompt} (at least one id, usually starting with BOS). {@code sink} gets the
     * continuation's text piece by piece (not the prompt's); {@link Result#ids()} holds prompt and
     * continuation, the stop token excluded.
     */
    public Result generate(int[] prompt, Settings settings, Sampler sampler, Consumer<String> sink) throws IOException {
        return generate(prompt, settings, sampler, id -> {}, sink);
    }

    /**
     * As {@link #generate(int[], Settings, Sampler, Consumer)}, and {@code idSink} gets each generated id as
     * soon as it is chosen (the stop id excluded), before its text reaches {@code sink}.
     */
    public Result generate(int[] prompt, Settings settings, Sampler sampler, IntConsumer idSink, Consumer<String> sink)
            throws IOException {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt: give at least one token (BOS)");
        }
        int context = decoder.contextLength();
        if (context > 0 && prompt.length > context) {
            throw new IllegalArgumentException("the prompt has " + prompt.length + " tokens, the model takes " + context);
        }
        decoder.reset();
        int[] ids = Arrays.copyOf(prompt, prompt.length + settings.maxNewTokens());
        int n = prompt.length;
        long t0 = System.nanoTime();
        long[] positions = new long[n];
        long[] promptIds = new long[n];
        for (int i = 0; i < n; i++) {
            positions[i] = i;
            promptIds[i] = prompt[i];
        }
        float[] logits = settings.maxNewTokens() > 0 ? decoder.forward(promptIds, positions) : null;
        long t1 = System.nanoTime();
        TokenTextStream text = tokenizer == null ? null : new TokenTextStream(tokenizer, prompt[n - 1]);
        Stop stop = Stop.MAX_TOKENS;
        int stopToken = -1;
        int steps = 0;
        for (int step = 0; step < settings.maxNewTokens(); step++) {
            int next = sampler.sample(logits);
            if (settings.stops(next)) {
                stop = Stop.STOP_TOKEN;
                stopToken = next;
                break;
            }
            ids[n++] = next;
            idSink.accept(next);
            // Models may pad their vocabulary beyond the tokenizer's; such an id has no text.
            if (text != null && next < tokenizer.vocabSize()) {
                emit(sink, text.push(next));
            }
            // A prompt that fills the context still gets one token (it needs no position): stop after it.
            if (context > 0 && n >= context) {
                stop = n - prompt.length < settings.maxNewTokens() ? Stop.CONTEXT_FULL : Stop.MAX_TOKENS;
                break;
            }
            // The last token's logits would go unused: no forward pass for it.
            if (step + 1 < settings.maxNewTokens()) {
                logits = decoder.forward(new long[] {next}, new long[] {n - 1});
                steps++;
            }
        }
        if (text != null) {
            emit(sink, text.finish());
        }
        long t2 = System.nanoTime();
        return new Result(Arrays.copyOf(ids, n), prompt.length, n - prompt.length, stop, stopToken,
                Duration.ofNanos(t1 - t0), Duration.ofNanos(t2 - t1), steps);
    }

    private static void emit(Consumer<String> sink, String s) {
        if (!s.isEmpty()) {
            sink.accept(s);
        }
    }
}
