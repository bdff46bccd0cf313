package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ErrorStatsTest {

    static MemorySegment seg(Arena arena, float... v) {
        return Fixtures.segment(arena, v);
    }

    @Test
    void handComputedValues() {
        try (Arena arena = Arena.ofConfined()) {
            ErrorStats s = new ErrorStats();
            // signal 3, 4 (sum of squares 25); errors 0.5, -0.5 (sum of squares 0.5)
            s.add(seg(arena, 3, 4), seg(arena, 2.5f, 4.5f), 2, 10);
            assertEquals(2, s.count());
            assertEquals(25.0, s.signalSumSquares());
            assertEquals(0.5, s.errorSumSquares());
            assertEquals(0.5, s.maxAbsError());
            assertEquals(10, s.maxAbsErrorIndex()); // first of the equal errors
            assertEquals(0.5, s.rmse(), 1e-15);
            assertEquals(10 * Math.log10(50), s.snrDb(), 1e-12); // 16.99 dB
        }
    }

    @Test
    void zeroNoiseIsInfiniteSnr() {
        try (Arena arena = Arena.ofConfined()) {
            ErrorStats s = new ErrorStats();
            assertEquals(Double.POSITIVE_INFINITY, s.snrDb());
            assertEquals(0, s.rmse());
            assertEquals(-1, s.maxAbsErrorIndex());
            s.add(seg(arena, 1, -2), seg(arena, 1, -2), 2, 0);
            assertEquals(Double.POSITIVE_INFINITY, s.snrDb());
            assertEquals(0, s.maxAbsError());
            assertEquals(0, s.maxAbsErrorIndex());
            ErrorStats silent = new ErrorStats();
            silent.add(seg(arena, 0), seg(arena, 1), 1, 0);
            assertEquals(Double.NEGATIVE_INFINITY, silent.snrDb());
        }
    }

    @Test
    void chunksAndMergesAgreeWithOnePass() {
        Random r = new Random(5);
        int n = 10_000;
        float[] x = new float[n];
        float[] y = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
            y[i] = x[i] + (float) (r.nextGaussian() * 0.01);
        }
        x[7777] = 0.5f; // the largest error, exactly 1, at a known index
        y[7777] = 1.5f;
        x[9000] = 2f; // the same error later: the first index is kept, whatever the merge order
        y[9000] = 1f;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment xs = seg(arena, x);
            MemorySegment ys = seg(arena, y);
            ErrorStats whole = new ErrorStats();
            whole.add(xs, ys, n, 0);
            ErrorStats a = new ErrorStats();
            ErrorStats b = new ErrorStats();
            ErrorStats c = new ErrorStats();
            a.add(xs, ys, 3000, 0);
            b.add(xs.asSlice(4 * 3000), ys.asSlice(4 * 3000), 5000, 3000);
            for (int i = 8000; i < n; i++) {
                c.add(x[i], y[i], i);
            }
            ErrorStats merged = new ErrorStats().merge(c).merge(b).merge(a); // out of order on purpose
            assertEquals(whole.count(), merged.count());
            assertEquals(whole.signalSumSquares(), merged.signalSumSquares(), 1e-9 * whole.signalSumSquares());
            assertEquals(whole.errorSumSquares(), merged.errorSumSquares(), 1e-9 * whole.errorSumSquares());
            assertEquals(whole.maxAbsError(), merged.maxAbsError());
            assertEquals(7777, whole.maxAbsErrorIndex());
            assertEquals(7777, merged.maxAbsErrorIndex());
            assertEquals(whole.snrDb(), merged.snrDb(), 1e-9);
            assertEquals(whole.rmse(), merged.rmse(), 1e-12);
            double noise = 0;
            double signal = 0;
            for (int i = 0; i < n; i++) {
                signal += (double) x[i] * x[i];
                noise += ((double) x[i] - y[i]) * ((double) x[i] - y[i]);
            }
            assertEquals(10 * Math.log10(signal / noise), whole.snrDb(), 1e-9);
            assertEquals(Math.sqrt(noise / n), whole.rmse(), 1e-12);
        }
    }

    /** The segment path (vector kernel where this JVM has one) against one-element adds, at odd lengths and offsets. */
    @Test
    void segmentPathEqualsElementPath() {
        Random r = new Random(11);
        for (int n : new int[] {1, 7, 1023, 1024, 1025, 5000, 20_011}) {
            float[] x = new float[n];
            float[] y = new float[n];
            for (int i = 0; i < n; i++) {
                x[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(7) - 3));
                y[i] = r.nextInt(4) == 0 ? x[i] : x[i] + (float) (r.nextGaussian() * 1e-3);
            }
            // Equal largest errors in different blocks, and one inside the first block's tail.
            for (int at : new int[] {n - 1, n / 2, 3}) {
                if (at >= 0 && at < n) {
                    x[at] = 100f;
                    y[at] = 200f;
                }
            }
            try (Arena arena = Arena.ofConfined()) {
                ErrorStats seg = new ErrorStats();
                seg.add(seg(arena, x), seg(arena, y), n, 1000);
                ErrorStats one = new ErrorStats();
                for (int i = n - 1; i >= 0; i--) { // reverse order: ties must still keep the first index
                    one.add(x[i], y[i], 1000 + i);
                }
                assertEquals(one.count(), seg.count());
                assertEquals(one.maxAbsError(), seg.maxAbsError(), "n=" + n);
                assertEquals(one.maxAbsErrorIndex(), seg.maxAbsErrorIndex(), "n=" + n);
                assertEquals(one.signalSumSquares(), seg.signalSumSquares(), 1e-12 * one.signalSumSquares());
                assertEquals(one.errorSumSquares(), seg.errorSumSquares(), 1e-12 * one.errorSumSquares());
            }
        }
    }
}
