package dev.arica.cli;

import dev.arica.cli.report.Markup;
import dev.arica.runtime.validate.Thresholds;
import java.math.BigDecimal;

/** How validate writes its thresholds: the option of each figure, figures and limits as printed, a failure's words. */
final class ThresholdText {
    private ThresholdText() {}

    static String option(Thresholds.Figure f) {
        return switch (f) {
            case TOP1_AGREEMENT -> "--min-agreement";
            case MEAN_KL -> "--max-kl";
            case PERPLEXITY_INCREASE -> "--max-ppl-increase";
        };
    }

    /** "top-1 agreement 0.9120 < --min-agreement 0.98". */
    static String failure(Thresholds.Check c) {
        String op = c.figure().atLeast() ? (c.value() < c.limit() ? "<" : "is not >=") : (c.value() > c.limit() ? ">" : "is not <=");
        return c.figure().label() + " " + figure(c.value()) + " " + op + " " + option(c.figure()) + " " + limit(c.limit());
    }

    /** Four significant digits: 0.9120, 1.235e-05. */
    static String figure(double v) {
        return Double.isFinite(v) ? Markup.figure(v) : Double.toString(v);
    }

    /** A limit as the user would write it: 0.98, 0.001. */
    static String limit(double v) {
        return BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }
}
