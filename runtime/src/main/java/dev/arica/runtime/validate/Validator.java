package dev.arica.runtime.validate;

import dev.arica.runtime.generate.Decoder;
import dev.arica.runtime.generate.Generator;
import dev.arica.runtime.generate.Sampler;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Compares a candidate model with a reference that shares its tokenizer, in two ways:
 *
 * <ol>
 *   <li><b>Greedy decoding.</b> Each prompt is continued greedily by both (at most {@code maxNewTokens}
 *       new tokens, ending at any stop id or when the context is full); the continuations (generated ids,
 *       then the stop id when one ended it) are compared position by position up to the shorter one.
 *       Decoding speed is timed here: one-token forward passes per second, after one untimed warm-up
 *       generation of {@value #WARMUP_TOKENS} tokens per model so that the first model timed does not
 *       pay for the JIT alone.</li>
 *   <li><b>Teacher forcing.</b> Both models read the same token sequences (given texts, or by default
 *       the reference's greedy sequences: prompt, continuation and stop id) and at every position but
 *       the last their next-token distributions are compared: same argmax or not, KL(P_ref || P_cand),
 *       and each model's negative log-likelihood of the actual next token. A sequence longer than the
 *       window W (the smaller context of the two) is read in windows of W tokens starting W/2 apart,
 *       each from a fresh cache at position 0; a window scores only the positions no earlier window
 *       scored, so each position is scored once and, after the first window, with at least W/2 tokens
 *       before it. Windows are fed in chunks of up to {@value #MAX_CHUNK} tokens (fewer for large
 *       vocabularies: a chunk's log-probabilities take at most 8 MB) through
 *       {@link Decoder#forwardAll}.</li>
 * </ol>
 *
 * The decoders are used one after the other on the calling thread and reset between sequences.
 */
public final class Validator {

    /** New tokens of the untimed warm-up generation of each model. */
    public static final int WARMUP_TOKENS = 8;
    /** Most tokens fed to a decoder in one call while teacher forcing. */
    public static final int MAX_CHUNK = 256;
    /** Most log-probabilities of the reference held at once: 8 MB of doubles. */
    private static final int MAX_CHUNK_VALUES = 1 << 20;

    /** At most {@code maxNewTokens} (at least 1) new tokens per prompt; any of {@code stopIds} ends a continuation. */
    public record Settings(int maxNewTokens, int[] stopIds) {
        public Settings {
            if (maxNewTokens < 1) {
                throw new IllegalArgumentException("maxNewTokens must be at least 1, not " + maxNewTokens);
            }
            stopIds = stopIds.clone();
        }

        @Override
        public int[] stopIds() {
            return stopIds.clone();
        }
    }

    private final Decoder reference;
    private final Decoder candidate;
    private final Settings settings;
    private final int vocab;
    private final int window;
    private final int chunk;
    /** The reference's log-probabilities of the chunk being scored, one row per position. */
    private final double[][] referenceLog;
    private final int[] referenceTop;
    private final double[] candidateLog;

    public Validator(Decoder reference, Decoder candidate, Settings settings) {
        if (reference.vocabSize() != candidate.vocabSize()) {
            throw new IllegalArgumentException("the reference has a vocabulary of " + reference.vocabSize()
                    + " tokens, the candidate " + candidate.vocabSize() + ": they must share a tokenizer");
        }
        this.reference = reference;
        this.candidate = candidate;
        this.settings = settings;
        this.vocab = reference.vocabSize();
        int a = reference.contextLength();
        int b = candidate.contextLength();
        this.window = a > 0 && b > 0 ? Math.min(a, b) : Math.max(a, b);
        this.chunk = Math.clamp(MAX_CHUNK_VALUES / vocab, 1, MAX_CHUNK);
        this.referenceLog = new double[chunk][vocab];
        this.referenceTop = new int[chunk];
        this.candidateLog = new double[vocab];
    }

    /** Greedy comparison of {@code prompts}, then teacher forcing on the reference's greedy sequences. */
    public ValidationReport validate(List<int[]> prompts) throws IOException {
        return run(prompts, null);
    }

    /** Greedy comparison of {@code prompts}, then teacher forcing on {@code texts} (each at least 2 ids). */
    public ValidationReport validate(List<int[]> prompts, List<int[]> texts) throws IOException {
        if (texts.isEmpty()) {
            throw new IllegalArgumentException("no texts to read");
        }
        for (int t = 0; t < texts.size(); t++) {
            checkIds(texts.get(t), "text " + (t + 1));
            if (texts.get(t).length < 2) {
                throw new IllegalArgumentException("text " + (t + 1) + " has " + texts.get(t).length
                        + " token(s); at least 2 are needed to predict one");
            }
        }
        return run(prompts, texts);
    }

    private ValidationReport run(List<int[]> prompts, List<int[]> givenTexts) throws IOException {
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompts to continue");
        }
        for (int p = 0; p < prompts.size(); p++) {
            checkIds(prompts.get(p), "prompt " + (p + 1));
            if (prompts.get(p).length == 0) {
                throw new IllegalArgumentException("prompt " + (p + 1) + " has no tokens");
            }
        }
        Generator ref = new Generator(reference);
        Generator cand = new Generator(candidate);
        Sampler greedy = Sampler.greedy();
        Generator.Settings warmup = new Generator.Settings(Math.min(WARMUP_TOKENS, settings.maxNewTokens()), settings.stopIds());
        ref.generate(prompts.getFirst(), warmup, greedy, s -> {});
        cand.generate(prompts.getFirst(), warmup, greedy, s -> {});

        Generator.Settings decode = new Generator.Settings(settings.maxNewTokens(), settings.stopIds());
        List<ValidationReport.Greedy> greedyRows = new ArrayList<>();
        List<int[]> referenceSequences = new ArrayList<>();
        long refTokens = 0, refNanos = 0, candTokens = 0, candNanos = 0;
        for (int[] prompt : prompts) {
            Generator.Result r = ref.generate(prompt, decode, greedy, s -> {});
            Generator.Result c = cand.generate(prompt, decode, greedy, s -> {});
            refTokens += r.decodeSteps();
            refNanos += r.decode().toNanos();
            candTokens += c.decodeSteps();
            candNanos += c.decode().toNanos();
            greedyRows.add(new ValidationReport.Greedy(prompt, continuation(r), continuation(c)));
            referenceSequences.add(withStop(r.ids(), r));
        }
        List<int[]> texts = givenTexts != null ? givenTexts : referenceSequences;

        Accumulator all = new Accumulator();
        List<ValidationReport.Text> textRows = new ArrayList<>();
        for (int[] text : texts) {
            textRows.add(teacherForce(text, all));
        }
        ValidationReport.TeacherForced summary = new ValidationReport.TeacherForced(all.positions, all.agreeing,
                all.positions == 0 ? Double.NaN : all.klSum / all.positions, Divergence.percentile(all.kls, all.positions, 0.99),
                all.klMax, Divergence.perplexity(all.nllReference, all.positions),
                Divergence.perplexity(all.nllCandidate, all.positions));
        return new ValidationReport(greedyRows, givenTexts == null, textRows, summary,
                new ValidationReport.Speed(refTokens, refNanos), new ValidationReport.Speed(candTokens, candNanos),
                window, stride());
    }

    private void checkIds(int[] ids, String what) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= vocab) {
                throw new IllegalArgumentException(what + ": id " + ids[i] + " at index " + i + " is outside the vocabulary of "
                        + vocab);
            }
        }
    }

    private static int[] continuation(Generator.Result r) {
        return withStop(r.generatedIds(), r);
    }

    private static int[] withStop(int[] ids, Generator.Result r) {
        if (r.stop() != Generator.Stop.STOP_TOKEN) {
            return ids;
        }
        int[] out = Arrays.copyOf(ids, ids.length + 1);
        out[ids.length] = r.stopToken();
        return out;
    }

    private int stride() {
        return Math.max(1, window / 2);
    }

    /** Running sums of the teacher-forced figures, and every position's KL for the percentile. */
    private static final class Accumulator {
        int positions;
        int agreeing;
        double klSum;
        double klMax;
        double nllReference;
        double nllCandidate;
        double[] kls = new double[256];
        int[] disagreeing = new int[16];

        void add(boolean agree, double kl, double nllRef, double nllCand) {
            if (positions == kls.length) {
                kls = Arrays.copyOf(kls, 2 * kls.length);
            }
            if (agree) {
                agreeing++;
            } else {
                if (positions - agreeing == disagreeing.length) {
                    disagreeing = Arrays.copyOf(disagreeing, 2 * disagreeing.length);
                }
                disagreeing[positions - agreeing] = positions;
            }
            kls[positions++] = kl;
            klSum += kl;
            // Math.max keeps a NaN, so a broken distribution shows in the largest KL too.
            klMax = Math.max(klMax, kl);
            nllReference += nllRef;
            nllCandidate += nllCand;
        }
    }

    /** Scores every next-token prediction of {@code text} into its own figures and {@code all}. */
    private ValidationReport.Text teacherForce(int[] text, Accumulator all) throws IOException {
        Accumulator own = new Accumulator();
        int last = text.length - 1;
        int scored = 0;
        int windows = 0;
        for (int start = 0; scored < last; start += stride()) {
            int end = window == 0 ? last : Math.min(start + window, last);
            reference.reset();
            candidate.reset();
            for (int from = start; from < end; from += chunk) {
                feed(text, start, from, Math.min(from + chunk, end), scored, own, all);
            }
            scored = end;
            windows++;
        }
        return new ValidationReport.Text(text.length, own.positions, windows, own.agreeing, own.klSum, own.klMax,
                own.nllReference, own.nllCandidate, Arrays.copyOf(own.kls, own.positions),
                Arrays.copyOf(own.disagreeing, own.positions - own.agreeing));
    }

    /**
     * Feeds text[from, to) (positions counted from the window's {@code start}) to both models and scores
     * the predictions at indices {@code >= firstScored}: each predicts the token after it.
     */
    private void feed(int[] text, int start, int from, int to, int firstScored, Accumulator own, Accumulator all)
            throws IOException {
        int n = to - from;
        long[] ids = new long[n];
        long[] positions = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = text[from + i];
            positions[i] = from + i - start;
        }
        reference.forwardAll(ids, positions, (i, logits) -> {
            if (from + i >= firstScored) {
                Divergence.logSoftmax(logits, referenceLog[i]);
                referenceTop[i] = Sampler.argmax(logits);
            }
        });
        candidate.forwardAll(ids, positions, (i, logits) -> {
            if (from + i >= firstScored) {
                Divergence.logSoftmax(logits, candidateLog);
                int next = text[from + i + 1];
                boolean agree = referenceTop[i] == Sampler.argmax(logits);
                double kl = Divergence.kl(referenceLog[i], candidateLog);
                double nllRef = Divergence.nll(referenceLog[i], next);
                double nllCand = Divergence.nll(candidateLog, next);
                own.add(agree, kl, nllRef, nllCand);
                all.add(agree, kl, nllRef, nllCand);
            }
        });
    }
}
