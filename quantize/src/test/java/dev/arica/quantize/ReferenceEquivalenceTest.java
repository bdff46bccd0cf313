package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.quantize.Fixtures.Data;
import dev.arica.quantize.Fixtures.Path;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every kernel path (scalar, vector, the public entry point) gives byte for byte what the plain reference
 * gives, and dequantizes to the reference's values bit for bit. The pom runs this class again with
 * {@code -XX:MaxVectorSize} giving 64, 128 and 256-bit preferred species.
 */
class ReferenceEquivalenceTest {

    @Test
    void vectorWidthIsTheOneAskedFor() {
        String want = System.getProperty("arica.test.vectorBits");
        if (want != null && Fixtures.paths().contains(Path.VECTOR)) {
            int bits = VectorKernels.preferredBits();
            assertTrue(bits <= Integer.parseInt(want), "preferred species " + VectorKernels.F + " wider than " + want);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dev.arica.quantize.Fixtures#layoutsByData")
    void everyPathMatchesTheReference(QuantLayout layout, Data kind) {
        int rows = 3;
        for (int cols : Fixtures.COLS) {
            float[] x = Fixtures.data(kind, layout, rows, cols, 31L * cols + kind.ordinal());
            byte[] expected = Reference.quantize(layout, x, rows, cols);
            float[] expectedValues = Reference.dequantize(layout, expected, rows, cols);
            assertEquals(layout.bytes(rows, cols), expected.length, "reference size");
            for (Path path : Fixtures.paths()) {
                check(layout, kind, path, x, rows, cols, expected, expectedValues);
            }
        }
    }

    static void check(QuantLayout layout, Data kind, Path path, float[] x, int rows, int cols, byte[] expected,
            float[] expectedValues) {
        String what = layout.describe() + " " + kind + " cols=" + cols + " " + path;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = Fixtures.segment(arena, x);
            MemorySegment dst = arena.allocate(layout.bytes(rows, cols));
            dst.fill((byte) 0x5a); // every byte must be written
            Fixtures.quantize(path, layout, src, rows, cols, dst);
            byte[] got = Fixtures.bytes(dst);
            for (int i = 0; i < expected.length; i++) {
                if (got[i] != expected[i]) {
                    fail(what + ": byte " + i + " of " + expected.length + " is " + hex(got[i]) + ", reference "
                            + hex(expected[i]) + locate(layout, cols, i));
                }
            }
            MemorySegment back = arena.allocate(4L * x.length);
            Fixtures.dequantize(path, layout, dst, rows, cols, back);
            float[] values = Fixtures.floats(back, x.length);
            for (int i = 0; i < x.length; i++) {
                if (Float.floatToRawIntBits(values[i]) != Float.floatToRawIntBits(expectedValues[i])) {
                    fail(what + ": dequantized element " + i + " is " + values[i] + ", reference " + expectedValues[i]);
                }
            }
            dst.fill((byte) 0x5a);
            long base = 1000L * cols;
            ErrorStats error = Fixtures.quantizeMeasured(path, layout, src, rows, cols, dst, base);
            long at = dst.mismatch(MemorySegment.ofArray(expected));
            assertEquals(-1, at, what + ", measuring: byte " + at + " differs from the reference");
            Fixtures.assertSameError(Fixtures.referenceError(x, expectedValues, base), error, what + ", measured");
        }
    }

    private static String hex(byte b) {
        return String.format("0x%02x", b & 0xff);
    }

    private static String locate(QuantLayout layout, int cols, int i) {
        long rowBytes = layout.rowBytes(cols);
        return " (row " + i / rowBytes + ", byte " + i % rowBytes + " of " + rowBytes + ")";
    }

    /**
     * Large random tensors through the preferred vector kernel, enough for the JIT to compile it with
     * intrinsics, against the scalar kernel (itself checked against the reference above).
     */
    @Test
    void compiledVectorKernelMatchesScalarOnLargeData() {
        if (!Fixtures.paths().contains(Path.VECTOR)) {
            return;
        }
        int rows = 16;
        int cols = 4096 + 20;
        for (QuantLayout layout : Fixtures.LAYOUTS) {
            for (Data kind : Data.values()) {
                float[] x = Fixtures.data(kind, layout, rows, cols, 7 + kind.ordinal());
                try (Arena arena = Arena.ofConfined()) {
                    MemorySegment src = Fixtures.segment(arena, x);
                    MemorySegment a = arena.allocate(layout.bytes(rows, cols));
                    MemorySegment b = arena.allocate(layout.bytes(rows, cols));
                    for (int rep = 0; rep < 3; rep++) {
                        Fixtures.quantize(Path.VECTOR, layout, src, rows, cols, a);
                    }
                    Fixtures.quantize(Path.SCALAR, layout, src, rows, cols, b);
                    long at = a.mismatch(b);
                    assertEquals(-1, at, layout.describe() + " " + kind + ": vector and scalar differ at byte " + at);
                    MemorySegment da = arena.allocate(4L * x.length);
                    MemorySegment db = arena.allocate(4L * x.length);
                    for (int rep = 0; rep < 3; rep++) {
                        Fixtures.dequantize(Path.VECTOR, layout, a, rows, cols, da);
                    }
                    Fixtures.dequantize(Path.SCALAR, layout, a, rows, cols, db);
                    assertEquals(-1, da.mismatch(db), layout.describe() + " " + kind + ": dequantized values differ");
                    ErrorStats want = Fixtures.referenceError(x, Fixtures.floats(db, x.length), 0);
                    for (int rep = 0; rep < 3; rep++) {
                        b.fill((byte) 0x5a);
                        ErrorStats got = Fixtures.quantizeMeasured(Path.VECTOR, layout, src, rows, cols, b, 0);
                        assertEquals(-1, a.mismatch(b), layout.describe() + " " + kind + ": measured bytes differ");
                        Fixtures.assertSameError(want, got, layout.describe() + " " + kind + " measured, round " + rep);
                    }
                }
            }
        }
    }
}
