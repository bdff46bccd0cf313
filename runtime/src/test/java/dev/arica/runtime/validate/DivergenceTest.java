package dev.arica.runtime.validate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The arithmetic of {@link Divergence}, against values worked out by hand or computed another way. */
class DivergenceTest {

    static double[] logSoftmax(float... logits) {
        double[] out = new double[logits.length];
        Divergence.logSoftmax(logits, out);
        return out;
    }

    @Test
    void logSoftmaxOfKnownLogits() {
        // Logits 0 and ln 3: probabilities 1/4 and 3/4.
        double[] l = logSoftmax(0f, (float) Math.log(3));
        assertEquals(Math.log(0.25), l[0], 1e-7);
        assertEquals(Math.log(0.75), l[1], 1e-7);
        // Shifting every logit changes nothing, and huge logits do not overflow.
        assertArrayEquals(logSoftmax(1f, 2f, 3f), logSoftmax(1001f, 1002f, 1003f), 1e-12);
        double[] big = logSoftmax(3e38f, 3e38f);
        assertEquals(-Math.log(2), big[0], 1e-15);
        assertEquals(-Math.log(2), big[1], 1e-15);
        // A masked token has probability 0; NaN or +infinity leaves no distribution.
        double[] masked = logSoftmax(Float.NEGATIVE_INFINITY, 0f);
        assertEquals(Double.NEGATIVE_INFINITY, masked[0]);
        assertEquals(0, masked[1], 0);
        assertTrue(Arrays.stream(logSoftmax(1f, Float.NaN)).allMatch(Double::isNaN));
        assertTrue(Arrays.stream(logSoftmax(1f, Float.POSITIVE_INFINITY)).allMatch(Double::isNaN));
        assertThrows(IllegalArgumentException.class, () -> Divergence.logSoftmax(new float[2], new double[3]));
    }

    @Test
    void klOfIdenticalDistributionsIsExactlyZero() {
        Random r = new Random(7);
        for (int trial = 0; trial < 20; trial++) {
            float[] logits = new float[512];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = (float) (4 * r.nextGaussian());
            }
            double[] a = logSoftmax(logits);
            double[] b = logSoftmax(logits.clone());
            assertEquals(0.0, Divergence.kl(a, b), 0.0);
        }
    }

    @Test
    void klWorkedOutByHand() {
        // P = (1/2, 1/2), Q = (1/4, 3/4): 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3).
        double[] p = {Math.log(0.5), Math.log(0.5)};
        double[] q = {Math.log(0.25), Math.log(0.75)};
        assertEquals(0.5 * Math.log(4.0 / 3), Divergence.kl(p, q), 1e-15);
        assertEquals(0.143841036225890, Divergence.kl(p, q), 1e-14);
        // Not symmetric: KL(Q || P) = 1/4 ln(1/2) + 3/4 ln(3/2).
        assertEquals(0.25 * Math.log(0.5) + 0.75 * Math.log(1.5), Divergence.kl(q, p), 1e-15);
        // 0 log 0 = 0; mass where the other has none is infinitely surprising.
        double[] sure = {Double.NEGATIVE_INFINITY, 0};
        assertEquals(-Math.log(0.75), Divergence.kl(sure, q), 1e-15);
        assertEquals(Double.POSITIVE_INFINITY, Divergence.kl(q, sure));
        assertTrue(Double.isNaN(Divergence.kl(new double[] {Double.NaN, Double.NaN}, q)));
        assertThrows(IllegalArgumentException.class, () -> Divergence.kl(p, new double[3]));
    }

    @Test
    void klMatchesTheTextbookFormulaOnRandomDistributions() {
        Random r = new Random(11);
        for (int trial = 0; trial < 50; trial++) {
            int n = 2 + r.nextInt(300);
            float[] a = new float[n];
            float[] b = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) (3 * r.nextGaussian());
                b[i] = a[i] + (float) (0.3 * r.nextGaussian());
            }
            double[] p = probabilities(a);
            double[] q = probabilities(b);
            double want = 0;
            for (int i = 0; i < n; i++) {
                want += p[i] * Math.log(p[i] / q[i]);
            }
            double got = Divergence.kl(logSoftmax(a), logSoftmax(b));
            assertEquals(want, got, 1e-12 + 1e-9 * want);
            assertTrue(got > 0, "distinct distributions: positive");
        }
    }

    /** Softmax computed the plain way, for comparison. */
    private static double[] probabilities(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float x : logits) {
            max = Math.max(max, x);
        }
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = Math.exp(logits[i] - max);
            sum += p[i];
        }
        for (int i = 0; i < p.length; i++) {
            p[i] /= sum;
        }
        return p;
    }

    @Test
    void perplexityOfKnownDistributions() {
        // Uniform over 512 tokens: every token costs ln 512, perplexity 512.
        double[] uniform = logSoftmax(new float[512]);
        double nll = 0;
        for (int t = 0; t < 100; t++) {
            nll += Divergence.nll(uniform, t * 5);
        }
        assertEquals(512, Divergence.perplexity(nll, 100), 1e-9);
        // Tokens of probability 1/2, 1/4, 1/4 seen once each: mean NLL 5/3 ln 2, perplexity 2^(5/3).
        double[] l = {Math.log(0.5), Math.log(0.25), Math.log(0.25)};
        double sum = Divergence.nll(l, 0) + Divergence.nll(l, 1) + Divergence.nll(l, 2);
        assertEquals(Math.pow(2, 5.0 / 3), Divergence.perplexity(sum, 3), 1e-12);
        assertTrue(Double.isNaN(Divergence.perplexity(0, 0)));
    }

    @Test
    void nearestRankPercentile() {
        double[] hundred = new double[100];
        for (int i = 0; i < 100; i++) {
            hundred[i] = i + 1;
        }
        // Shuffled with a fixed seed: the order must not matter.
        Random r = new Random(3);
        for (int i = hundred.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            double t = hundred[i];
            hundred[i] = hundred[j];
            hundred[j] = t;
        }
        double[] before = hundred.clone();
        assertEquals(99, Divergence.percentile(hundred, 100, 0.99));
        assertEquals(100, Divergence.percentile(hundred, 100, 1));
        assertEquals(50, Divergence.percentile(hundred, 100, 0.5));
        assertEquals(1, Divergence.percentile(hundred, 100, 0));
        assertArrayEquals(before, hundred, "the input is left alone");
        // Ten values: ceil(9.9) = 10th smallest; only the first n count.
        assertEquals(10, Divergence.percentile(new double[] {3, 10, 1, 2, 4, 5, 6, 7, 8, 9, 1000}, 10, 0.99));
        assertEquals(7, Divergence.percentile(new double[] {7}, 1, 0.99));
        assertTrue(Double.isNaN(Divergence.percentile(new double[] {1, Double.NaN}, 2, 0.99)), "NaN sorts last");
        assertTrue(Double.isNaN(Divergence.percentile(new double[0], 0, 0.99)));
        assertThrows(IllegalArgumentException.class, () -> Divergence.percentile(hundred, 100, 1.5));
        assertThrows(IllegalArgumentException.class, () -> Divergence.percentile(hundred, 101, 0.5));
    }
}
