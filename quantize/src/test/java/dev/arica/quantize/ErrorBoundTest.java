package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.quantize.Fixtures.Data;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every dequantized element is within half a quantization step of its input, with the corrections each scheme
 * needs. With d the fp32 scale the scheme computes, s the stored fp16 scale, q the signed code (code - zero
 * point) and eps = 1e-4 * max(|d|, |s|) + 2^-22 * |x| + 256 * Float.MIN_VALUE (fp32 rounding of x * id, x / s
 * and of the product q * s):
 * <ul>
 *   <li>q8_0: |x - y| <= 0.5 * max(d, s) + |q| * |d - s| + eps. The codes come from the fp32 d, the values from
 *       fp16(d): each code is within half a step of x / d, and the step then moves by |d - s| per unit of q.</li>
 *   <li>q4_0: the same with |d|, except that the code 15 is a clamp (x / d can reach +8 on the side opposite to
 *       m, whose code would be 16): up to one whole step, |d| + 7 * |d - s| + eps.</li>
 *   <li>int symmetric: |x - y| <= 0.5 * s + qmax * max(0, d - s) + eps. The codes come from s itself, so the only
 *       excess is clamping at qmax when fp16 rounded the scale down; for a normal fp16 scale that excess is below
 *       127 * 2^-11 * d, less than half a step, and the bound is 0.5 * s + eps (checked too).</li>
 *   <li>int asymmetric: |x - y| <= 0.5 * s + (2^B - 1) * max(0, d - s) + eps: when fp16 rounds the scale down,
 *       the grid [-zp * s, (2^B - 1 - zp) * s] is narrower than [lo, hi] by (2^B - 1) * (d - s), and the rounded
 *       zero point shifts it by up to half a step.</li>
 *   <li>s = 0 (fp16 underflow) is covered by the same formulas: the bound becomes max |x| (or hi - lo).</li>
 * </ul>
 */
class ErrorBoundTest {

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("dev.arica.quantize.Fixtures#layoutsByData")
    void withinHalfAStep(QuantLayout layout, Data kind) {
        int rows = 4;
        for (int cols : new int[] {300, 172, 33}) {
            float[] x = Fixtures.data(kind, layout, rows, cols, 1000L * cols + kind.ordinal());
            try (Arena arena = Arena.ofConfined()) {
                Quantizer q = Quantizer.of(layout);
                MemorySegment src = Fixtures.segment(arena, x);
                MemorySegment stored = arena.allocate(layout.bytes(rows, cols));
                q.quantize(src, rows, cols, stored);
                MemorySegment back = arena.allocate(4L * x.length);
                q.dequantize(stored, rows, cols, back);
                float[] y = Fixtures.floats(back, x.length);
                byte[] bytes = Fixtures.bytes(stored);
                check(layout, kind, x, y, bytes, rows, cols);
            }
        }
    }

    static void check(QuantLayout layout, Data kind, float[] x, float[] y, byte[] bytes, int rows, int cols) {
        int size = layout.groupSize();
        int bits = layout.bits();
        int ng = Reference.groups(cols, size);
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < ng; g++) {
                float[] v = Reference.group(x, r, cols, g, size);
                float amax = 0;
                float m = 0;
                float lo = 0;
                float hi = 0;
                for (float e : v) {
                    if (Math.abs(e) > amax) {
                        amax = Math.abs(e);
                        m = e;
                    }
                    lo = Math.min(lo, e);
                    hi = Math.max(hi, e);
                }
                for (int j = 0; j < size && g * size + j < cols; j++) {
                    int c = g * size + j;
                    int i = r * cols + c;
                    double err = Math.abs((double) x[i] - y[i]);
                    double d;
                    double s;
                    double bound;
                    int code;
                    int zp;
                    switch (layout.scheme()) {
                        case Q8_0 -> {
                            int block = (r * ng + g) * 34;
                            s = Reference.fromFp16(shortAt(bytes, block));
                            code = bytes[block + 2 + j];
                            d = amax / 127f;
                            bound = 0.5 * Math.max(d, s) + Math.abs(code) * Math.abs(d - s);
                        }
                        case Q4_0 -> {
                            int block = (r * ng + g) * 18;
                            s = Reference.fromFp16(shortAt(bytes, block));
                            int b = bytes[block + 2 + j % 16] & 0xff;
                            code = j < 16 ? b & 15 : b >> 4;
                            d = m / -8f;
                            double step = Math.max(Math.abs(d), Math.abs(s));
                            bound = (code == 15 ? 1.0 : 0.5) * step + Math.abs(code - 8) * Math.abs(d - s);
                        }
                        default -> {
                            int rowAt = (int) (r * layout.rowBytes(cols));
                            int codeBytes = (int) layout.rowCodeBytes(cols);
                            s = Reference.fromFp16(shortAt(bytes, rowAt + codeBytes + 2 * g));
                            code = bits == 8 ? bytes[rowAt + c] & 0xff : (bytes[rowAt + c / 2] >> (c % 2 * 4)) & 15;
                            if (layout.asymmetric()) {
                                int zb = bytes[rowAt + codeBytes + 2 * ng + (bits == 8 ? g : g / 2)] & 0xff;
                                zp = bits == 8 ? zb : (zb >> (g % 2 * 4)) & 15;
                                int top = (1 << bits) - 1;
                                d = (hi - lo) / (float) top;
                                bound = 0.5 * s + top * Math.max(0, d - s);
                            } else {
                                int qmax = (1 << (bits - 1)) - 1;
                                d = amax / (float) qmax;
                                bound = 0.5 * s + qmax * Math.max(0, d - s);
                                double eps = 1e-4 * s + 0x1p-22 * Math.abs(x[i]) + 256 * Float.MIN_VALUE;
                                if (s >= 0x1p-14 && err > 0.5 * s + eps) {
                                    fail(where(layout, kind, r, c, cols) + ": x = " + x[i] + ", y = " + y[i] + ", error "
                                            + err + " > half a step " + 0.5 * s + " (normal fp16 scale)");
                                }
                            }
                        }
                    }
                    double eps = 1e-4 * Math.max(Math.abs(d), Math.abs(s)) + 0x1p-22 * Math.abs(x[i])
                            + 256 * Float.MIN_VALUE;
                    if (!(err <= bound + eps)) {
                        fail(where(layout, kind, r, c, cols) + ": x = " + x[i] + ", y = " + y[i] + ", error " + err
                                + " > bound " + bound + " (d = " + d + ", s = " + s + ", code " + code + ")");
                    }
                }
            }
        }
    }

    private static String where(QuantLayout layout, Data kind, int r, int c, int cols) {
        return layout.describe() + " " + kind + " cols=" + cols + " row " + r + " column " + c;
    }

    private static short shortAt(byte[] b, int at) {
        return (short) ((b[at] & 0xff) | (b[at + 1] & 0xff) << 8);
    }

    /** The bound is not vacuous: a wrong dequantization (one step off) breaks it. */
    @org.junit.jupiter.api.Test
    void boundCatchesAnOffByOneStep() {
        QuantLayout layout = QuantLayout.of(Scheme.Q8_0);
        float[] x = Fixtures.data(Data.GAUSSIAN, layout, 1, 64, 5);
        byte[] stored = Reference.q8(x, 1, 64);
        float[] y = Reference.dq8(stored, 1, 64);
        check(layout, Data.GAUSSIAN, x, y, stored, 1, 64);
        float s = Reference.fromFp16(shortAt(stored, 0));
        y[7] += s;
        AssertionError e = org.junit.jupiter.api.Assertions.assertThrows(AssertionError.class,
                () -> check(layout, Data.GAUSSIAN, x, y, stored, 1, 64));
        assertEquals(true, e.getMessage().contains("column 7"), e.getMessage());
    }
}
