package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.quantize.Fixtures.Path;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** NaN and infinities are found and refused at the right index; scales beyond fp16 are refused. */
class RefusalTest {
    static final float[] BAD = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
        Float.intBitsToFloat(0xffc00001), Float.intBitsToFloat(0x7f800001)};

    static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    static long firstNonFinite(Path path, MemorySegment s, long n) {
        return switch (path) {
            case SCALAR -> Kernels.scalarFirstNonFinite(s, 0, n);
            case VECTOR -> VectorKernels.firstNonFinite(s, n);
            case PUBLIC -> Quantizer.firstNonFinite(s, n);
        };
    }

    @Test
    void firstNonFiniteFindsTheFirst() {
        int[] lengths = {0, 1, 7, 63, 64, 65, 127, 128, 129, 1000, 4099};
        Random rnd = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            for (int n : lengths) {
                float[] x = gaussian(n, n);
                if (n > 0) {
                    x[rnd.nextInt(n)] = Float.MAX_VALUE; // finite extremes are not reported
                }
                if (n > 1) {
                    x[n - 1] = -Float.MAX_VALUE;
                }
                MemorySegment clean = Fixtures.segment(arena, x);
                for (Path p : Fixtures.paths()) {
                    assertEquals(-1, firstNonFinite(p, clean, n), p + " n=" + n);
                }
                for (int trial = 0; trial < 6 && n > 0; trial++) {
                    float[] y = x.clone();
                    int first = trial == 0 ? 0 : trial == 1 ? n - 1 : rnd.nextInt(n);
                    y[first] = BAD[trial % BAD.length];
                    for (int k = 0; k < 3; k++) { // later ones must not matter
                        int later = first + 1 + rnd.nextInt(Math.max(1, n - first));
                        if (later < n) {
                            y[later] = BAD[(trial + k + 1) % BAD.length];
                        }
                    }
                    MemorySegment s = Fixtures.segment(arena, y);
                    for (Path p : Fixtures.paths()) {
                        assertEquals(first, firstNonFinite(p, s, n), p + " n=" + n + " bad " + y[first]);
                    }
                    // a count that stops before the bad element sees nothing
                    for (Path p : Fixtures.paths()) {
                        assertEquals(-1, firstNonFinite(p, s, first), p + " n=" + first);
                    }
                }
            }
        }
    }

    @Test
    void quantizeRefusesNonFiniteAtTheFirstIndex() {
        int rows = 4;
        for (QuantLayout layout : Fixtures.LAYOUTS) {
            for (int cols : new int[] {172, 300, 33}) {
                for (int trial = 0; trial < BAD.length; trial++) {
                    float[] x = gaussian(rows * cols, trial);
                    // the first bad one: row 2, in the last (padded) group for one trial, else column 37 % cols
                    int col = trial == 2 ? cols - 1 : 37 % cols;
                    int first = 2 * cols + col;
                    x[first] = BAD[trial];
                    x[first + 1] = Float.NaN; // later in the same row or the next
                    x[3 * cols + 5] = Float.POSITIVE_INFINITY;
                    if (trial == 3) {
                        x[first - 1 - cols] = 1e30f; // an enormous but finite value before it
                        x[first - cols] = 1e30f;
                    }
                    for (Path p : Fixtures.paths()) {
                        QuantizationException e = quantizeExpectingFailure(p, layout, x, rows, cols);
                        if (trial == 3) { // the overflowing scale of row 1 comes first
                            assertEquals(QuantizationException.Kind.SCALE_OVERFLOW, e.kind(), e.getMessage());
                            assertEquals(1, e.row(), e.getMessage());
                            continue;
                        }
                        String what = layout.describe() + " cols=" + cols + " " + p + ": " + e.getMessage();
                        assertEquals(QuantizationException.Kind.NON_FINITE_INPUT, e.kind(), what);
                        assertEquals(first, e.index(), what);
                        assertEquals(2, e.row(), what);
                        assertEquals(col, e.column(), what);
                        assertEquals(Float.floatToRawIntBits(BAD[trial]), Float.floatToRawIntBits(e.value()), what);
                        assertTrue(e.getMessage().contains("element " + first), what);
                    }
                }
            }
        }
    }

    static QuantizationException quantizeExpectingFailure(Path p, QuantLayout layout, float[] x, int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = Fixtures.segment(arena, x);
            MemorySegment dst = arena.allocate(layout.bytes(rows, cols));
            return assertThrows(QuantizationException.class, () -> Fixtures.quantize(p, layout, src, rows, cols, dst),
                    layout.describe() + " " + p);
        }
    }

    static void quantize(Path p, QuantLayout layout, float[] x, int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = Fixtures.segment(arena, x);
            MemorySegment dst = arena.allocate(layout.bytes(rows, cols));
            Fixtures.quantize(p, layout, src, rows, cols, dst);
        }
    }

    /** A group with {@code big} at column 40 of row 1 (second group of 32; first of 128). */
    static float[] withBig(float big, int cols) {
        float[] x = gaussian(2 * cols, 9);
        x[cols + 40] = big;
        return x;
    }

    @Test
    void scaleOverflowIsRefusedAtTheBoundary() {
        int cols = 172;
        // q8_0: d = amax / 127; fp16(d) is infinite from d = 65520 (ties to even go up to 2^16)
        expectOverflow(QuantLayout.of(Scheme.Q8_0), 8321040f, cols, 32); // d = 65520 exactly
        expectFine(QuantLayout.of(Scheme.Q8_0), 8321039f, cols); // d = 65519.99, stored as 65504
        // q4_0: d = m / -8
        expectOverflow(QuantLayout.of(Scheme.Q4_0), -524160f, cols, 32); // d = 65520
        expectFine(QuantLayout.of(Scheme.Q4_0), 524000f, cols);
        // int8 / int4 symmetric: d = amax / 127, amax / 7
        expectOverflow(new QuantLayout(Scheme.INT8, 128, false), 8321040f, cols, 0);
        expectFine(new QuantLayout(Scheme.INT8, 128, false), 8321039f, cols);
        expectOverflow(new QuantLayout(Scheme.INT4, 32, false), 458640f, cols, 32);
        expectFine(new QuantLayout(Scheme.INT4, 32, false), 458600f, cols);
        // asymmetric: d = (hi - lo) / (2^B - 1)
        expectOverflow(new QuantLayout(Scheme.INT4, 32, true), 982800f, cols, 32); // 15 * 65520
        expectFine(new QuantLayout(Scheme.INT4, 32, true), 982000f, cols);
        // 1e30 everywhere refused; 1e4 everywhere fine
        for (QuantLayout layout : Fixtures.LAYOUTS) {
            int firstColumn = 40 / layout.groupSize() * layout.groupSize();
            expectOverflow(layout, 1e30f, cols, firstColumn);
            expectOverflow(layout, -1e30f, cols, firstColumn);
            expectFine(layout, 1e4f, cols);
            expectFine(layout, -1e4f, cols);
        }
        // hi - lo itself overflowing fp32
        float[] x = gaussian(64, 1);
        x[3] = 3e38f;
        x[4] = -3e38f;
        for (Path p : Fixtures.paths()) {
            QuantizationException e = quantizeExpectingFailure(p, new QuantLayout(Scheme.INT8, 64, true), x, 1, 64);
            assertEquals(QuantizationException.Kind.SCALE_OVERFLOW, e.kind());
        }
    }

    static void expectOverflow(QuantLayout layout, float big, int cols, int firstColumn) {
        float[] x = withBig(big, cols);
        for (Path p : Fixtures.paths()) {
            QuantizationException e = quantizeExpectingFailure(p, layout, x, 2, cols);
            String what = layout.describe() + " " + big + " " + p + ": " + e.getMessage();
            assertEquals(QuantizationException.Kind.SCALE_OVERFLOW, e.kind(), what);
            assertEquals(1, e.row(), what);
            assertEquals(firstColumn, e.column(), what);
            assertEquals(cols + firstColumn, e.index(), what);
            assertEquals(firstColumn / layout.groupSize(), e.group(layout.groupSize()), what);
            assertTrue(Float.isFinite(e.value()) && Math.abs(e.value()) >= 65520f, what);
            assertTrue(e.withTensor("model.layers.0.mlp.up_proj.weight").getMessage()
                    .startsWith("tensor 'model.layers.0.mlp.up_proj.weight': scale "), what);
        }
    }

    static void expectFine(QuantLayout layout, float big, int cols) {
        float[] x = withBig(big, cols);
        for (Path p : Fixtures.paths()) {
            assertDoesNotThrow(() -> quantize(p, layout, x, 2, cols), layout.describe() + " " + big + " " + p);
        }
    }

    @Test
    void argumentsAreChecked() {
        Quantizer q = Quantizer.of(QuantLayout.of(Scheme.Q8_0));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(4 * 64);
            assertThrows(IllegalArgumentException.class, () -> q.quantize(src, 2, 32, arena.allocate(67)));
            assertThrows(IllegalArgumentException.class, () -> q.quantize(src, 3, 32, arena.allocate(102)));
            assertThrows(IllegalArgumentException.class, () -> q.dequantize(arena.allocate(67), 2, 32, src));
            assertThrows(IllegalArgumentException.class, () -> Quantizer.firstNonFinite(src, 65));
            q.quantize(src, 2, 32, arena.allocate(68));
            q.quantize(src, 0, 32, arena.allocate(0));
        }
    }
}
