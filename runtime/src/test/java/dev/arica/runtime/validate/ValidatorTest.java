package dev.arica.runtime.validate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.runtime.generate.Sampler;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@link Validator} with bigram decoders, whose next-token distribution depends on the last token alone:
 * whatever the windows and chunks, every figure can be computed position by position here.
 */
class ValidatorTest {
    static final int VOCAB = 32;
    static final int[] NO_STOP = {};

    static int[] randomText(long seed, int length) {
        Random r = new Random(seed);
        int[] t = new int[length];
        for (int i = 0; i < length; i++) {
            t[i] = r.nextInt(VOCAB);
        }
        return t;
    }

    static double[] logProbabilities(BigramDecoder d, int token) {
        double[] out = new double[VOCAB];
        Divergence.logSoftmax(d.table[token], out);
        return out;
    }

    /** The figures of {@code text} computed directly: each position's distributions from the tables. */
    record Expected(int agreeing, double klSum, double klMax, double nllRef, double nllCand, double[] kls, int[] disagreeing) {
        static Expected of(BigramDecoder ref, BigramDecoder cand, int[] text) {
            int agreeing = 0;
            List<Integer> disagreeing = new ArrayList<>();
            double klSum = 0, klMax = 0, nllRef = 0, nllCand = 0;
            double[] kls = new double[text.length - 1];
            for (int i = 0; i + 1 < text.length; i++) {
                double[] p = logProbabilities(ref, text[i]);
                double[] q = logProbabilities(cand, text[i]);
                // KL from probabilities, not through Divergence.kl.
                double kl = 0;
                for (int v = 0; v < VOCAB; v++) {
                    kl += Math.exp(p[v]) * Math.log(Math.exp(p[v]) / Math.exp(q[v]));
                }
                kls[i] = kl;
                klSum += kl;
                klMax = Math.max(klMax, kl);
                nllRef -= p[text[i + 1]];
                nllCand -= q[text[i + 1]];
                if (Sampler.argmax(ref.table[text[i]]) == Sampler.argmax(cand.table[text[i]])) {
                    agreeing++;
                } else {
                    disagreeing.add(i);
                }
            }
            return new Expected(agreeing, klSum, klMax, nllRef, nllCand, kls,
                    disagreeing.stream().mapToInt(Integer::intValue).toArray());
        }
    }

    @Test
    void aModelAgainstItselfAgreesEverywhere() throws Exception {
        BigramDecoder ref = new BigramDecoder(VOCAB, 64, 1, 2f);
        BigramDecoder cand = new BigramDecoder(VOCAB, 64, 1, 2f);
        List<int[]> prompts = List.of(new int[] {1, 5}, new int[] {1, 9, 3, 7});
        ValidationReport r = new Validator(ref, cand, new Validator.Settings(10, new int[] {0})).validate(prompts);
        assertEquals(2, r.prompts().size());
        for (ValidationReport.Greedy g : r.prompts()) {
            assertArrayEquals(g.reference(), g.candidate());
            assertEquals(g.reference().length, g.identicalPrefix());
            assertEquals(1.0, g.identicalFraction());
        }
        assertTrue(r.textsFromReference());
        ValidationReport.TeacherForced tf = r.teacherForced();
        assertEquals(1.0, tf.agreement());
        assertEquals(0.0, tf.meanKl(), 0.0);
        assertEquals(0.0, tf.maxKl(), 0.0);
        assertEquals(0.0, tf.p99Kl(), 0.0);
        assertEquals(tf.perplexityReference(), tf.perplexityCandidate(), 0.0);
        assertEquals(0.0, tf.perplexityIncrease(), 0.0);
        // The default texts are the reference's greedy sequences: prompt, continuation (stop id included).
        for (int i = 0; i < prompts.size(); i++) {
            int tokens = prompts.get(i).length + r.prompts().get(i).reference().length;
            assertEquals(tokens, r.texts().get(i).tokens());
            assertEquals(tokens - 1, r.texts().get(i).positions());
        }
    }

    @Test
    void greedyContinuationsFollowTheTables() throws Exception {
        BigramDecoder ref = new BigramDecoder(VOCAB, 64, 4, 2f);
        BigramDecoder cand = new BigramDecoder(VOCAB, 64, 5, 2f);
        int[] prompt = {1, 2};
        ValidationReport r = new Validator(ref, cand, new Validator.Settings(6, NO_STOP)).validate(List.of(prompt));
        ValidationReport.Greedy g = r.prompts().getFirst();
        assertArrayEquals(chain(ref, 2, 6), g.reference());
        assertArrayEquals(chain(cand, 2, 6), g.candidate());
        // Decoding speed counts the one-token passes: 5 for 6 new tokens (the last needs none).
        assertEquals(5, r.reference().tokens());
        assertEquals(5, r.candidate().tokens());
        assertTrue(r.reference().nanos() > 0);
    }

    /** {@code n} greedy tokens after {@code last} by the table alone. */
    static int[] chain(BigramDecoder d, int last, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            last = Sampler.argmax(d.table[last]);
            out[i] = last;
        }
        return out;
    }

    @Test
    void aStopIdEndsAContinuationAndIsCompared() throws Exception {
        BigramDecoder ref = new BigramDecoder(VOCAB, 64, 4, 2f);
        int first = Sampler.argmax(ref.table[2]);
        BigramDecoder cand = new BigramDecoder(VOCAB, 64, 4, 2f);
        ValidationReport r = new Validator(ref, cand, new Validator.Settings(6, new int[] {first})).validate(List.of(new int[] {1, 2}));
        assertArrayEquals(new int[] {first}, r.prompts().getFirst().reference(), "the stop id alone");
        assertEquals(3, r.texts().getFirst().tokens(), "prompt and stop id");
    }

    @Test
    void teacherForcedFiguresMatchAPositionByPositionComputation() throws Exception {
        BigramDecoder ref = new BigramDecoder(VOCAB, 0, 21, 1.5f);
        BigramDecoder cand = new BigramDecoder(ref, 1.2f);
        // 600 tokens and no context limit: one window in chunks of 256, 256 and 87 fed tokens.
        int[] text = randomText(8, 600);
        ValidationReport r = new Validator(ref, cand, new Validator.Settings(4, NO_STOP)).validate(List.of(new int[] {1}),
                List.of(text));
        assertFalse(r.textsFromReference());
        ValidationReport.Text t = r.texts().getFirst();
        assertEquals(600, t.tokens());
        assertEquals(599, t.positions());
        assertEquals(1, t.windows());
        Expected e = Expected.of(ref, cand, text);
        assertEquals(e.agreeing(), t.agreeing());
        assertEquals(e.klSum(), t.klSum(), 1e-9 * e.klSum());
        assertEquals(e.klMax(), t.klMax(), 1e-9 * e.klMax());
        assertEquals(e.nllRef(), t.nllReference(), 1e-9 * e.nllRef());
        assertEquals(e.nllCand(), t.nllCandidate(), 1e-9 * e.nllCand());
        assertArrayEquals(e.kls(), t.kl(), 1e-9 * e.klMax());
        assertArrayEquals(new int[0], t.disagreeing());
        assertTrue(e.klSum() > 0 && e.agreeing() > 0, "a real difference, yet the same argmax");
        assertEquals(599, e.agreeing(), "scaling logits keeps every argmax");
        ValidationReport.TeacherForced tf = r.teacherForced();
        assertEquals(Math.exp(e.nllRef() / 599), tf.perplexityReference(), 1e-9);
        assertEquals(Math.exp(e.nllCand() / 599), tf.perplexityCandidate(), 1e-9);
        assertEquals(e.klSum() / 599, tf.meanKl(), 1e-12);
        // Nearest rank: of 599 values the ceil(593.01) = 594th smallest.
        double[] sorted = e.kls().clone();
        java.util.Arrays.sort(sorted);
        assertEquals(sorted[593], tf.p99Kl(), 1e-9 * sorted[593]);
        assertEquals(sorted[598], tf.maxKl(), 1e-9 * sorted[598]);
    }

    @Test
    void longTextsAreReadInOverlappingWindowsScoringEachPositionOnce() throws Exception {
        BigramDecoder ref = new BigramDecoder(VOCAB, 8, 31, 1.5f);
        BigramDecoder cand = new BigramDecoder(VOCAB, 10, 32, 1.5f);
        // Window 8 (the smaller context), stride 4; 25 tokens, 24 predictions: windows feed [0,8), [4,12), [8,16),
        // [12,20), [16,24), each scoring the 4 predictions after the previous window's end (the first all 8).
        int[] text = randomText(9, 25);
        List<int[]> texts = new ArrayList<>(List.of(text, randomText(10, 9)));
        ValidationReport r = new Validator(ref, cand, new Validator.Settings(2, NO_STOP)).validate(List.of(new int[] {1}), texts);
        assertEquals(8, r.window());
        assertEquals(4, r.stride());
        ValidationReport.Text t = r.texts().getFirst();
        assertEquals(24, t.positions());
        assertEquals(5, t.windows());
        assertEquals(8, ref.mostHeld, "never more than the context");
        Expected e = Expected.of(ref, cand, text);
        assertEquals(e.nllRef(), t.nllReference(), 1e-9 * e.nllRef(), "each position scored once");
        assertEquals(e.klSum(), t.klSum(), 1e-9 * e.klSum());
        assertEquals(e.agreeing(), t.agreeing());
        // Each position's KL and top-1 in text order, whichever window scored it.
        assertArrayEquals(e.kls(), t.kl(), 1e-9 * e.klMax());
        assertArrayEquals(e.disagreeing(), t.disagreeing());
        assertTrue(t.disagreeing().length > 0 && t.agreeing() > 0, "both kinds of position");
        // 9 tokens, 8 predictions: windows [0,8) only.
        assertEquals(1, r.texts().get(1).windows());
        assertEquals(32, r.teacherForced().positions());
        Expected e2 = Expected.of(ref, cand, texts.get(1));
        assertEquals(e.agreeing() + e2.agreeing(), r.teacherForced().agreeing());
        assertEquals(Math.exp((e.nllCand() + e2.nllCand()) / 32), r.teacherForced().perplexityCandidate(), 1e-9);
    }

    @Test
    void refusals() {
        BigramDecoder a = new BigramDecoder(VOCAB, 0, 1, 1f);
        assertThrows(IllegalArgumentException.class, () -> new Validator(a, new BigramDecoder(VOCAB + 1, 0, 1, 1f),
                new Validator.Settings(4, NO_STOP)));
        assertThrows(IllegalArgumentException.class, () -> new Validator.Settings(0, NO_STOP));
        Validator v = new Validator(a, new BigramDecoder(VOCAB, 0, 2, 1f), new Validator.Settings(4, NO_STOP));
        assertThrows(IllegalArgumentException.class, () -> v.validate(List.of()));
        assertThrows(IllegalArgumentException.class, () -> v.validate(List.of(new int[0])));
        assertThrows(IllegalArgumentException.class, () -> v.validate(List.of(new int[] {VOCAB})));
        assertThrows(IllegalArgumentException.class, () -> v.validate(List.of(new int[] {1}), List.of(new int[] {1})));
        assertThrows(IllegalArgumentException.class, () -> v.validate(List.of(new int[] {1}), List.of(new int[] {1, -1})));
        assertThrows(IllegalArgumentException.class, () -> v.validate(List.of(new int[] {1}), List.of()));
    }
}
