package dev.arica.runtime.validate;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalDouble;

/**
 * The limits a candidate must meet, each optional: a least teacher-forced top-1 agreement, a largest
 * mean KL divergence, a largest relative perplexity increase. A NaN figure fails any limit on it.
 */
public record Thresholds(OptionalDouble minAgreement, OptionalDouble maxMeanKl, OptionalDouble maxPerplexityIncrease) {

    public static final Thresholds NONE = new Thresholds(OptionalDouble.empty(), OptionalDouble.empty(), OptionalDouble.empty());

    /** A figure a threshold applies to, and whether it must be at least or at most the limit. */
    public enum Figure {
        TOP1_AGREEMENT("top-1 agreement", true),
        MEAN_KL("mean KL", false),
        PERPLEXITY_INCREASE("perplexity increase", false);

        private final String label;
        private final boolean atLeast;

        Figure(String label, boolean atLeast) {
            this.label = label;
            this.atLeast = atLeast;
        }

        public String label() {
            return label;
        }

        /** True when the figure must be at least the limit, false when at most. */
        public boolean atLeast() {
            return atLeast;
        }
    }

    /** One threshold applied: the measured value against the limit. */
    public record Check(Figure figure, double value, double limit) {
        public boolean passed() {
            // Written so that NaN fails both ways.
            return figure.atLeast() ? value >= limit : value <= limit;
        }
    }

    public Thresholds {
        if (minAgreement.isPresent() && !(minAgreement.getAsDouble() >= 0 && minAgreement.getAsDouble() <= 1)) {
            throw new IllegalArgumentException("minimum agreement must be in [0, 1], not " + minAgreement.getAsDouble());
        }
        nonNegative(maxMeanKl, "maximum mean KL");
        nonNegative(maxPerplexityIncrease, "maximum perplexity increase");
    }

    private static void nonNegative(OptionalDouble limit, String what) {
        if (limit.isPresent() && !(limit.getAsDouble() >= 0 && limit.getAsDouble() < Double.POSITIVE_INFINITY)) {
            throw new IllegalArgumentException(what + " must be a finite number >= 0, not " + limit.getAsDouble());
        }
    }

    /** The given thresholds applied to {@code report}, in the order agreement, KL, perplexity. */
    public List<Check> apply(ValidationReport report) {
        List<Check> out = new ArrayList<>();
        ValidationReport.TeacherForced t = report.teacherForced();
        minAgreement.ifPresent(l -> out.add(new Check(Figure.TOP1_AGREEMENT, t.agreement(), l)));
        maxMeanKl.ifPresent(l -> out.add(new Check(Figure.MEAN_KL, t.meanKl(), l)));
        maxPerplexityIncrease.ifPresent(l -> out.add(new Check(Figure.PERPLEXITY_INCREASE, t.perplexityIncrease(), l)));
        return out;
    }
}
