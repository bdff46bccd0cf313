package dev.arica.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SamplerTest {

    /** Logits whose softmax at temperature 1 is exactly {@code p} (up to rounding). */
    static float[] logitsOf(double... p) {
        float[] l = new float[p.length];
        for (int i = 0; i < p.length; i++) {
            l[i] = (float) Math.log(p[i]);
        }
        return l;
    }

    static float[] randomLogits(long seed, int n) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] l = new float[n];
        for (int i = 0; i < n; i++) {
            l[i] = (float) (r.nextGaussian() * 3);
        }
        return l;
    }

    /** Counts of {@code draws} samples per index. */
    static int[] histogram(Sampler s, float[] logits, int draws) {
        int[] counts = new int[logits.length];
        for (int i = 0; i < draws; i++) {
            counts[s.sample(logits)]++;
        }
        return counts;
    }

    /** Each frequency within 5 standard deviations of {@code expected} (binomial), the seed fixed. */
    static void assertDistribution(double[] expected, int[] counts, int draws) {
        for (int i = 0; i < expected.length; i++) {
            double mean = expected[i] * draws;
            double sd = Math.sqrt(draws * expected[i] * (1 - expected[i]));
            assertTrue(Math.abs(counts[i] - mean) <= 5 * sd,
                    "index " + i + ": " + counts[i] + " draws, expected " + mean + " ± " + 5 * sd);
        }
    }

    @Test
    void greedyIsArgmaxFirstOnTies() {
        assertEquals(2, Sampler.argmax(new float[] {1, 3, 5, 5, -1}));
        assertEquals(0, Sampler.argmax(new float[] {7, 7, 7}));
        assertEquals(1, Sampler.argmax(new float[] {Float.NaN, 0}), "NaN never wins");
        assertEquals(2, Sampler.greedy().sample(new float[] {1, 3, 5, 5, -1}));
        assertEquals(4, Sampler.argmax(new float[] {Float.NEGATIVE_INFINITY, -5, -4, -3, -2}));
    }

    @Test
    void topKOneTinyTopPAndZeroTemperatureAreGreedy() {
        for (long seed = 0; seed < 50; seed++) {
            float[] l = randomLogits(seed, 100);
            int best = Sampler.argmax(l);
            assertEquals(best, new Sampler(new Sampler.Settings(1.0, 1, 1.0, seed)).sample(l), "top-k 1");
            assertEquals(best, new Sampler(new Sampler.Settings(1.5, 0, 1e-9, seed)).sample(l), "tiny top-p");
            assertEquals(best, new Sampler(new Sampler.Settings(0, 40, 0.9, seed)).sample(l), "temperature 0");
        }
    }

    @Test
    void temperatureOneFollowsTheSoftmax() {
        double[] p = {0.1, 0.2, 0.3, 0.4};
        int draws = 200_000;
        int[] counts = histogram(new Sampler(new Sampler.Settings(1.0, 0, 1.0, 42)), logitsOf(p), draws);
        assertDistribution(p, counts, draws);
        assertEquals(draws, counts[0] + counts[1] + counts[2] + counts[3]);
    }

    @Test
    void temperatureReshapesTheDistribution() {
        // At temperature 2 the probabilities go as p^(1/2): sqrt(.1), sqrt(.2), ... normalised.
        double[] p = {0.1, 0.2, 0.3, 0.4};
        double[] q = new double[4];
        double z = 0;
        for (int i = 0; i < 4; i++) {
            q[i] = Math.sqrt(p[i]);
            z += q[i];
        }
        for (int i = 0; i < 4; i++) {
            q[i] /= z;
        }
        int draws = 200_000;
        assertDistribution(q, histogram(new Sampler(new Sampler.Settings(2.0, 0, 1.0, 7)), logitsOf(p), draws), draws);
    }

    @Test
    void topKAndTopPRestrictTheSupport() {
        double[] p = {0.1, 0.2, 0.3, 0.4};
        int draws = 100_000;
        // top-k 2 keeps 3 and 2: 0.4/0.7 and 0.3/0.7.
        assertDistribution(new double[] {0, 0, 3 / 7.0, 4 / 7.0},
                histogram(new Sampler(new Sampler.Settings(1.0, 2, 1.0, 1)), logitsOf(p), draws), draws);
        // top-p 0.5: 0.4 < 0.5, 0.4 + 0.3 >= 0.5, so the same two.
        assertDistribution(new double[] {0, 0, 3 / 7.0, 4 / 7.0},
                histogram(new Sampler(new Sampler.Settings(1.0, 0, 0.5, 2)), logitsOf(p), draws), draws);
        // top-p 0.75: 0.7 < 0.75, 0.9 >= 0.75: three tokens, 0.2/0.9, 0.3/0.9, 0.4/0.9.
        assertDistribution(new double[] {0, 2 / 9.0, 3 / 9.0, 4 / 9.0},
                histogram(new Sampler(new Sampler.Settings(1.0, 0, 0.75, 3)), logitsOf(p), draws), draws);
        // top-k 3 then top-p 0.6 of the renormalised (0.2, 0.3, 0.4)/0.9: 0.444 < 0.6, 0.778 >= 0.6.
        assertDistribution(new double[] {0, 0, 3 / 7.0, 4 / 7.0},
                histogram(new Sampler(new Sampler.Settings(1.0, 3, 0.6, 4)), logitsOf(p), draws), draws);
    }

    @Test
    void topPOverALongTailTakesTiesInIndexOrder() {
        // 0.5, 0.3, then 100 tokens of 0.002 each. top-p 0.849: 0.5 + 0.3 = 0.8, and 25 tail tokens bring
        // it to 0.850 (24 leave 0.848): the nucleus is indices 0..26, the lowest-indexed of the equal tail.
        double[] p = new double[102];
        p[0] = 0.5;
        p[1] = 0.3;
        java.util.Arrays.fill(p, 2, 102, 0.002);
        double z = 0.8 + 25 * 0.002;
        double[] expected = new double[102];
        expected[0] = 0.5 / z;
        expected[1] = 0.3 / z;
        java.util.Arrays.fill(expected, 2, 27, 0.002 / z);
        int draws = 100_000;
        assertDistribution(expected, histogram(new Sampler(new Sampler.Settings(1.0, 0, 0.849, 5)), logitsOf(p), draws), draws);
    }

    @Test
    void topKPrefersLowerIndicesOnTies() {
        assertArrayEquals(new int[] {0, 1}, Sampler.topK(new float[] {5, 5, 5, 1}, 2));
        assertArrayEquals(new int[] {1, 3}, Sampler.topK(new float[] {1, 9, 2, 8}, 2));
    }

    @Test
    void aSeedGivesTheSameDrawsAndAnotherSeedOthers() {
        float[] l = randomLogits(9, 50);
        int[] a = new int[200], b = new int[200], c = new int[200];
        Sampler sa = new Sampler(new Sampler.Settings(1.0, 0, 1.0, 123));
        Sampler sb = new Sampler(new Sampler.Settings(1.0, 0, 1.0, 123));
        Sampler sc = new Sampler(new Sampler.Settings(1.0, 0, 1.0, 124));
        for (int i = 0; i < 200; i++) {
            a[i] = sa.sample(l);
            b[i] = sb.sample(l);
            c[i] = sc.sample(l);
        }
        assertArrayEquals(a, b);
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(c));
    }

    @Test
    void settingsAreChecked() {
        assertThrows(IllegalArgumentException.class, () -> new Sampler.Settings(-1, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler.Settings(Double.NaN, 0, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler.Settings(1, -1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler.Settings(1, 0, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler.Settings(1, 0, 1.5, 0));
        assertThrows(IllegalArgumentException.class, () -> Sampler.greedy().sample(new float[0]));
    }
}
