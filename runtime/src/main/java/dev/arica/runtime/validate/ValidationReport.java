package dev.arica.runtime.validate;

import java.util.Arrays;
import java.util.List;

/**
 * What {@link Validator} measured: per prompt the two greedy continuations, per text the teacher-forced
 * figures, their totals over every scored position, and each model's decoding speed.
 *
 * @param prompts the greedy comparison of each prompt, in order
 * @param textsFromReference whether the texts were the reference's own greedy sequences (else given)
 * @param texts the teacher-forced figures of each text, in order
 * @param window the most tokens fed per window (the smaller context of the two; 0: unlimited)
 * @param stride how far successive windows of a longer text start apart
 */
public record ValidationReport(List<Greedy> prompts, boolean textsFromReference, List<Text> texts, TeacherForced teacherForced,
                               Speed reference, Speed candidate, int window, int stride) {

    public ValidationReport {
        prompts = List.copyOf(prompts);
        texts = List.copyOf(texts);
    }

    /**
     * One prompt decoded greedily by both models. A continuation is the generated ids followed by the
     * stop id when one ended it, so that stopping where the other model goes on counts as a difference.
     */
    public record Greedy(int[] prompt, int[] reference, int[] candidate) {
        public Greedy {
            prompt = prompt.clone();
            reference = reference.clone();
            candidate = candidate.clone();
        }

        @Override
        public int[] prompt() {
            return prompt.clone();
        }

        @Override
        public int[] reference() {
            return reference.clone();
        }

        @Override
        public int[] candidate() {
            return candidate.clone();
        }

        /** Positions compared: the length of the shorter continuation. */
        public int compared() {
            return Math.min(reference.length, candidate.length);
        }

        /** Leading positions where both continuations hold the same id. */
        public int identicalPrefix() {
            int n = Arrays.mismatch(reference, candidate);
            return n < 0 ? reference.length : Math.min(n, compared());
        }

        /** Compared positions holding the same id in both, wherever they are. */
        public int identical() {
            int same = 0;
            for (int i = 0; i < compared(); i++) {
                if (reference[i] == candidate[i]) {
                    same++;
                }
            }
            return same;
        }

        /** {@link #identical()} / {@link #compared()}; NaN when nothing was compared. */
        public double identicalFraction() {
            return compared() == 0 ? Double.NaN : (double) identical() / compared();
        }

        public boolean same() {
            return Arrays.equals(reference, candidate);
        }
    }

    /**
     * Teacher-forced figures of one text: {@code positions} next-token predictions (one fewer than its
     * tokens), fed in {@code windows} windows; sums over those positions.
     *
     * @param kl KL(P_ref || P_cand) at each scored position, in order (index 0 predicts the text's second token)
     * @param disagreeing the scored positions, ascending, whose top-1 tokens differ
     */
    public record Text(int tokens, int positions, int windows, int agreeing, double klSum, double klMax,
                       double nllReference, double nllCandidate, double[] kl, int[] disagreeing) {
        public Text {
            if (kl.length != positions || disagreeing.length != positions - agreeing) {
                throw new IllegalArgumentException(positions + " positions, " + agreeing + " agreeing: got " + kl.length
                        + " KL values and " + disagreeing.length + " disagreeing positions");
            }
            kl = kl.clone();
            disagreeing = disagreeing.clone();
        }

        @Override
        public double[] kl() {
            return kl.clone();
        }

        @Override
        public int[] disagreeing() {
            return disagreeing.clone();
        }

        public double agreement() {
            return positions == 0 ? Double.NaN : (double) agreeing / positions;
        }

        public double meanKl() {
            return positions == 0 ? Double.NaN : klSum / positions;
        }

        public double perplexityReference() {
            return Divergence.perplexity(nllReference, positions);
        }

        public double perplexityCandidate() {
            return Divergence.perplexity(nllCandidate, positions);
        }
    }

    /**
     * The teacher-forced figures over every scored position of every text: top-1 agreement (the fraction
     * of positions whose most likely next token is the same in both), KL(P_ref || P_cand) in nats (mean,
     * nearest-rank 99th percentile, largest) and each model's perplexity on the texts.
     */
    public record TeacherForced(int positions, int agreeing, double meanKl, double p99Kl, double maxKl,
                                double perplexityReference, double perplexityCandidate) {
        public double agreement() {
            return positions == 0 ? Double.NaN : (double) agreeing / positions;
        }

        /** perplexity(candidate) / perplexity(reference) - 1: 0.05 is 5% worse, negative is better. */
        public double perplexityIncrease() {
            return perplexityCandidate / perplexityReference - 1;
        }
    }

    /** Greedy decoding of one model: {@code tokens} forward passes of one token in {@code nanos}. */
    public record Speed(long tokens, long nanos) {
        public double tokensPerSecond() {
            return nanos == 0 ? Double.NaN : tokens / (nanos / 1e9);
        }
    }

    /** Compared positions over every prompt. */
    public int greedyCompared() {
        return prompts.stream().mapToInt(Greedy::compared).sum();
    }

    public int greedyIdentical() {
        return prompts.stream().mapToInt(Greedy::identical).sum();
    }

    /** Identical positions over compared positions, every prompt together. */
    public double greedyFraction() {
        int compared = greedyCompared();
        return compared == 0 ? Double.NaN : (double) greedyIdentical() / compared;
    }

    /** Prompts whose two continuations are identical, stop included. */
    public int identicalContinuations() {
        return (int) prompts.stream().filter(Greedy::same).count();
    }

    /** Candidate tokens per second over the reference's. */
    public double speedRatio() {
        return candidate.tokensPerSecond() / reference.tokensPerSecond();
    }
}
