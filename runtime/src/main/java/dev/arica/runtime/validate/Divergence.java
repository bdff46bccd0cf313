package dev.arica.runtime.validate;

import java.util.Arrays;

/**
 * The arithmetic of comparing two next-token distributions, all in double: log-softmax, Kullback-Leibler
 * divergence, negative log-likelihood, perplexity and a nearest-rank percentile.
 */
public final class Divergence {
    private Divergence() {}

    /**
     * {@code out[v] = (x[v] - max) - log(sum_w exp(x[w] - max))}: the log-probabilities of the softmax of
     * {@code logits}. Shifting by the largest logit keeps every exponent at or below 0, so nothing
     * overflows; a logit of -infinity gets log-probability -infinity. NaN or +infinity among the logits
     * gives NaN everywhere (the distribution is undefined), which fails every threshold downstream.
     */
    public static void logSoftmax(float[] logits, double[] out) {
        if (out.length != logits.length || logits.length == 0) {
            throw new IllegalArgumentException(logits.length + " logits into " + out.length + " values");
        }
        double max = Double.NEGATIVE_INFINITY;
        boolean undefined = false;
        for (float x : logits) {
            if (Float.isNaN(x) || x == Float.POSITIVE_INFINITY) {
                undefined = true;
            }
            max = Math.max(max, x);
        }
        if (undefined || max == Double.NEGATIVE_INFINITY) {
            Arrays.fill(out, Double.NaN);
            return;
        }
        double sum = 0;
        for (float x : logits) {
            sum += Math.exp(x - max);
        }
        // (x - max) first: adding log(sum) to a large max would round its digits away.
        double logSum = Math.log(sum);
        for (int v = 0; v < logits.length; v++) {
            out[v] = (logits[v] - max) - logSum;
        }
    }

    /**
     * KL(P || Q) = sum over v of p_v (log p_v - log q_v), in nats, from log-probabilities. A token with
     * p_v = 0 adds nothing (0 log 0 = 0); one with p_v > 0 and q_v = 0 makes it +infinity. Identical
     * inputs give exactly 0. Rounding can leave a true 0 a hair below it, so the result is clamped at 0.
     */
    public static double kl(double[] logP, double[] logQ) {
        if (logP.length != logQ.length) {
            throw new IllegalArgumentException(logP.length + " against " + logQ.length + " log-probabilities");
        }
        double sum = 0;
        boolean infinite = false;
        for (int v = 0; v < logP.length; v++) {
            double lp = logP[v];
            if (lp == Double.NEGATIVE_INFINITY) {
                continue;
            }
            double lq = logQ[v];
            if (lq == Double.NEGATIVE_INFINITY) {
                infinite = true;
                sum += Double.isNaN(lp) ? lp : 0;
            } else {
                sum += Math.exp(lp) * (lp - lq);
            }
        }
        if (Double.isNaN(sum)) {
            return sum;
        }
        return infinite ? Double.POSITIVE_INFINITY : Math.max(0, sum);
    }

    /** -log p(token): the negative log-likelihood, in nats, of {@code token} under {@code logP}. */
    public static double nll(double[] logP, int token) {
        return -logP[token];
    }

    /** exp(mean negative log-likelihood): {@code exp(nllSum / count)}; NaN when nothing was counted. */
    public static double perplexity(double nllSum, long count) {
        return count == 0 ? Double.NaN : Math.exp(nllSum / count);
    }

    /**
     * The nearest-rank {@code q}-quantile of the first {@code n} of {@code values}: the smallest value
     * that at least a fraction {@code q} of them do not exceed, i.e. the ceil(q n)-th smallest (the
     * smallest for q = 0). NaN sorts above every number. NaN when n is 0. {@code values} is not changed.
     */
    public static double percentile(double[] values, int n, double q) {
        if (!(q >= 0 && q <= 1)) {
            throw new IllegalArgumentException("quantile must be in [0, 1], not " + q);
        }
        if (n < 0 || n > values.length) {
            throw new IllegalArgumentException(n + " of " + values.length + " values");
        }
        if (n == 0) {
            return Double.NaN;
        }
        double[] sorted = Arrays.copyOf(values, n);
        Arrays.sort(sorted);
        int rank = (int) Math.ceil(q * n);
        return sorted[Math.max(rank, 1) - 1];
    }
}
