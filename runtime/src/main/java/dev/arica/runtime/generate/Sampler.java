package dev.arica.runtime.generate;

import java.util.Arrays;
import java.util.PriorityQueue;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * Picks the next token from logits: greedy (argmax, the first on ties), or a draw from the softmax at
 * {@code temperature}, restricted to the {@code topK} most likely tokens and then to the smallest set
 * whose probability reaches {@code topP}. Draws come from a seeded L64X128MixRandom, so a seed gives the
 * same tokens every run. Not thread-safe (it owns its random state).
 */
public final class Sampler {

    /**
     * {@code temperature} 0 is greedy; {@code topK} 0 (or at least the vocabulary) and {@code topP} 1 turn
     * those filters off.
     */
    public record Settings(double temperature, int topK, double topP, long seed) {
        public Settings {
            if (!(temperature >= 0) || Double.isInfinite(temperature)) {
                throw new IllegalArgumentException("temperature must be finite and >= 0, not " + temperature);
            }
            if (topK < 0) {
                throw new IllegalArgumentException("top-k must be >= 0, not " + topK);
            }
            if (!(topP > 0 && topP <= 1)) {
                throw new IllegalArgumentException("top-p must be in (0, 1], not " + topP);
            }
        }

        public static Settings greedy() {
            return new Settings(0, 0, 1, 0);
        }
    }

    private final Settings settings;
    private final RandomGenerator random;

    public Sampler(Settings settings) {
        this.settings = settings;
        this.random = RandomGeneratorFactory.of("L64X128MixRandom").create(settings.seed());
    }

    public static Sampler greedy() {
        return new Sampler(Settings.greedy());
    }

    public Settings settings() {
        return settings;
    }

    /** The index of the largest logit; the first one on ties. NaN never wins. */
    public static int argmax(float[] logits) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) {
            if (logits[i] > logits[best] || Float.isNaN(logits[best])) {
                best = i;
            }
        }
        return best;
    }

    public int sample(float[] logits) {
        if (logits.length == 0) {
            throw new IllegalArgumentException("no logits");
        }
        if (settings.temperature() == 0 || settings.topK() == 1) {
            return argmax(logits);
        }
        int[] candidates = settings.topK() > 0 && settings.topK() < logits.length ? topK(logits, settings.topK()) : allIndices(logits.length);
        double max = Double.NEGATIVE_INFINITY;
        for (int i : candidates) {
            max = Math.max(max, logits[i]);
        }
        double[] weights = new double[candidates.length];
        double total = 0;
        for (int c = 0; c < candidates.length; c++) {
            weights[c] = Math.exp((logits[candidates[c]] - max) / settings.temperature());
            total += weights[c];
        }
        int n = candidates.length;
        if (settings.topP() < 1 && n > 1) {
            // As llama2.c does: a token below (1 - p) / (n - 1) cannot be in the nucleus, since all of
            // those together fall short of 1 - p; only the rest need sorting.
            double cutoff = (1 - settings.topP()) / (n - 1) * total;
            int m = 0;
            Integer[] order = new Integer[n];
            for (int c = 0; c < n; c++) {
                if (weights[c] >= cutoff) {
                    order[m++] = c;
                }
            }
            // Most likely first (lowest index on ties), then the shortest prefix reaching top-p.
            Arrays.sort(order, 0, m, (a, b) -> weights[a] != weights[b] ? Double.compare(weights[b], weights[a])
                    : Integer.compare(candidates[a], candidates[b]));
            int[] kept = new int[m];
            double[] keptWeights = new double[m];
            double cumulative = 0;
            int k = 0;
            while (k < m && (k == 0 || cumulative < settings.topP() * total)) {
                kept[k] = candidates[order[k]];
                keptWeights[k] = weights[order[k]];
                cumulative += keptWeights[k];
                k++;
            }
            return draw(Arrays.copyOf(kept, k), Arrays.copyOf(keptWeights, k), cumulative);
        }
        return draw(candidates, weights, total);
    }

    private int draw(int[] candidates, double[] weights, double total) {
        double u = random.nextDouble() * total;
        double cumulative = 0;
        for (int c = 0; c < candidates.length; c++) {
            cumulative += weights[c];
            if (u < cumulative) {
                return candidates[c];
            }
        }
        // Rounding can leave u at the very top: the last candidate with weight takes it.
        for (int c = candidates.length - 1; c >= 0; c--) {
            if (weights[c] > 0) {
                return candidates[c];
            }
        }
        return candidates[0];
    }

    private static int[] allIndices(int n) {
        int[] all = new int[n];
        for (int i = 0; i < n; i++) {
            all[i] = i;
        }
        return all;
    }

    /** The k largest logits' indices (lowest index first among equals), in index order. */
    static int[] topK(float[] logits, int k) {
        // A min-heap of the best k so far: the worst (smallest logit, then highest index) on top.
        PriorityQueue<Integer> heap = new PriorityQueue<>(k + 1, (a, b) -> logits[a] != logits[b]
                ? Float.compare(logits[a], logits[b]) : Integer.compare(b, a));
        for (int i = 0; i < logits.length; i++) {
            if (heap.size() < k) {
                heap.add(i);
            } else if (logits[i] > logits[heap.peek()]) {
                heap.poll();
                heap.add(i);
            }
        }
        return heap.stream().mapToInt(Integer::intValue).sorted().toArray();
    }
}
