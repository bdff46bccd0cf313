package dev.arica.runtime.validate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

/** The greedy comparison figures and the thresholds, on values worked out by hand. */
class ValidationReportTest {

    static ValidationReport.Greedy greedy(int[] reference, int[] candidate) {
        return new ValidationReport.Greedy(new int[] {1}, reference, candidate);
    }

    @Test
    void prefixAndIdenticalPositions() {
        // Positions compared: 4 (the shorter); same at 0, 1 and 3; the prefix ends at 2.
        ValidationReport.Greedy g = greedy(new int[] {5, 6, 7, 8}, new int[] {5, 6, 9, 8, 4});
        assertEquals(4, g.compared());
        assertEquals(2, g.identicalPrefix());
        assertEquals(3, g.identical());
        assertEquals(0.75, g.identicalFraction());
        assertFalse(g.same());
        // The reference stopped at id 2 where the candidate went on: position 1 differs.
        ValidationReport.Greedy stop = greedy(new int[] {5, 2}, new int[] {5, 7, 8});
        assertEquals(2, stop.compared());
        assertEquals(1, stop.identicalPrefix());
        assertEquals(0.5, stop.identicalFraction());
        // One continuation a prefix of the other: identical as far as compared, not the same.
        ValidationReport.Greedy prefix = greedy(new int[] {5, 6}, new int[] {5, 6, 7});
        assertEquals(2, prefix.identicalPrefix());
        assertEquals(1.0, prefix.identicalFraction());
        assertFalse(prefix.same());
        ValidationReport.Greedy same = greedy(new int[] {3, 4, 5}, new int[] {3, 4, 5});
        assertEquals(3, same.identicalPrefix());
        assertTrue(same.same());
        ValidationReport.Greedy first = greedy(new int[] {9, 4, 5}, new int[] {3, 4, 5});
        assertEquals(0, first.identicalPrefix());
        assertEquals(2.0 / 3, first.identicalFraction());

        ValidationReport r = report(List.of(g, stop, same), 100, 90, 0.02, 4.0, 4.5);
        assertEquals(9, r.greedyCompared());
        assertEquals(7, r.greedyIdentical());
        assertEquals(7.0 / 9, r.greedyFraction());
        assertEquals(1, r.identicalContinuations());
        assertEquals(0.125, r.teacherForced().perplexityIncrease());
        assertEquals(0.9, r.teacherForced().agreement());
        assertEquals(0.5, r.speedRatio(), 1e-12);
    }

    static ValidationReport report(List<ValidationReport.Greedy> greedy, int positions, int agreeing, double meanKl,
            double pplRef, double pplCand) {
        return new ValidationReport(greedy, true, List.of(),
                new ValidationReport.TeacherForced(positions, agreeing, meanKl, 2 * meanKl, 3 * meanKl, pplRef, pplCand),
                new ValidationReport.Speed(100, 1_000_000_000L), new ValidationReport.Speed(50, 1_000_000_000L), 512, 256);
    }

    @Test
    void thresholdsPassAtTheirLimitAndFailPastIt() {
        // Perplexities 4 and 4.5: an increase of exactly 0.125.
        ValidationReport r = report(List.of(greedy(new int[] {1}, new int[] {1})), 100, 98, 0.001, 4.0, 4.5);
        Thresholds atLimit = new Thresholds(OptionalDouble.of(0.98), OptionalDouble.of(0.001), OptionalDouble.of(0.125));
        List<Thresholds.Check> checks = atLimit.apply(r);
        assertEquals(List.of(Thresholds.Figure.TOP1_AGREEMENT, Thresholds.Figure.MEAN_KL, Thresholds.Figure.PERPLEXITY_INCREASE),
                checks.stream().map(Thresholds.Check::figure).toList());
        assertTrue(checks.stream().allMatch(Thresholds.Check::passed), checks::toString);
        Thresholds strict = new Thresholds(OptionalDouble.of(0.99), OptionalDouble.of(0.0009), OptionalDouble.of(0.12));
        assertTrue(strict.apply(r).stream().noneMatch(Thresholds.Check::passed));
        assertEquals(List.of(), Thresholds.NONE.apply(r));
        // NaN figures fail both kinds of limit.
        ValidationReport broken = report(List.of(greedy(new int[] {1}, new int[] {1})), 0, 0, Double.NaN, 4, Double.NaN);
        assertTrue(atLimit.apply(broken).stream().noneMatch(Thresholds.Check::passed));
    }

    @Test
    void badLimitsAreRefused() {
        OptionalDouble none = OptionalDouble.empty();
        assertThrows(IllegalArgumentException.class, () -> new Thresholds(OptionalDouble.of(1.5), none, none));
        assertThrows(IllegalArgumentException.class, () -> new Thresholds(OptionalDouble.of(Double.NaN), none, none));
        assertThrows(IllegalArgumentException.class, () -> new Thresholds(none, OptionalDouble.of(-0.1), none));
        assertThrows(IllegalArgumentException.class, () -> new Thresholds(none, none, OptionalDouble.of(Double.POSITIVE_INFINITY)));
    }
}
