package dev.arica.quantize;

import static dev.arica.formats.quant.GgmlRow.GROUP;
import static dev.arica.quantize.Kernels.F32;

import dev.arica.formats.quant.GgmlRow;
import dev.arica.formats.quant.Q8_0Row;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.MemorySegment;

/**
 * GGML Q8_0, blocks laid out by {@link Q8_0Row}.
 *
 * <p>Per group, as ggml's {@code quantize_row_q8_0_ref}: {@code amax = max|x|}, {@code d = amax / 127},
 * {@code id = d != 0 ? 1 / d : 0} (fp32), {@code q = roundf(x * id)} (half away from zero, in fp32), the
 * scale stored as fp16(d) (nearest even). Value = q * fp16(d).
 *
 * <p>Where ggml is undefined (a group so small, |max| below about 3.7e-37, that {@code 1 / d} overflows, so
 * {@code x * id} is infinite or NaN) codes are clamped to [-127, 127] and NaN gives 0; the stored scale is
 * then 0 anyway, so such groups dequantize to zeros.
 */
public final class Q8_0Quantizer implements Quantizer {
    private static final QuantLayout LAYOUT = QuantLayout.of(Scheme.Q8_0);

    Q8_0Quantizer() {}

    @Override
    public QuantLayout layout() {
        return LAYOUT;
    }

    @Override
    public void quantizeRows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow) {
        Kernels.checkQuantizeArgs(this, src, dst, cols, fromRow, toRow);
        if (Kernels.useVector(src, dst)) {
            VectorKernels.q8Rows(src, dst, cols, fromRow, toRow);
        } else {
            scalarRows(src, dst, cols, fromRow, toRow);
        }
    }

    /** The scalar kernel over whole rows (no argument checks). */
    static void scalarRows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow) {
        long rowBytes = new Q8_0Row(cols).rowBytes();
        for (long r = fromRow; r < toRow; r++) {
            long s = r * cols * 4;
            long b = r * rowBytes;
            for (long c = 0; c < cols; c += GROUP, s += 4 * GROUP, b += Q8_0Row.BLOCK) {
                group(src, s, (int) Math.min(GROUP, cols - c), dst, b, r, c, cols);
            }
        }
    }

    /**
     * Quantizes one group of {@code n <= 32} elements at byte {@code s} (zero-padded to 32) into the block at
     * byte {@code b}; {@code row}, {@code col0}, {@code cols} only name the place in exceptions.
     */
    static void group(MemorySegment src, long s, int n, MemorySegment dst, long b, long row, long col0, long cols) {
        float amax = 0f;
        for (int j = 0; j < n; j++) {
            float a = Math.abs(src.get(F32, s + 4L * j));
            if (!(a <= Float.MAX_VALUE)) {
                Kernels.throwFirstNonFinite(src, s, n, row, col0, cols);
            }
            if (a > amax) {
                amax = a;
            }
        }
        float d = amax / 127f;
        float id = d != 0f ? 1f / d : 0f;
        short d16 = Float.floatToFloat16(d);
        if (Kernels.isInf16(d16)) {
            throw QuantizationException.scaleOverflow(row, col0, cols, GROUP, d);
        }
        GgmlRow.putD(dst, b, d16);
        for (int j = 0; j < GROUP; j++) {
            Q8_0Row.putQ(dst, b, j, Kernels.clamp(Kernels.roundHalfAway(Kernels.at(src, s, j, n) * id), -127, 127));
        }
    }

    @Override
    public void quantizeRows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow, ErrorStats error,
            long indexBase) {
        Kernels.quantizeMeasured(this, src, dst, cols, fromRow, toRow, error, indexBase);
    }

    @Override
    public void dequantizeRows(MemorySegment stored, MemorySegment dst, long cols, long fromRow, long toRow) {
        Kernels.checkDequantizeArgs(this, stored, dst, cols, fromRow, toRow);
        if (Kernels.useVector(stored, dst)) {
            VectorKernels.q8Dequant(stored, dst, cols, fromRow, toRow);
        } else {
            scalarDequant(stored, dst, cols, fromRow, toRow);
        }
    }

    static void scalarDequant(MemorySegment stored, MemorySegment dst, long cols, long fromRow, long toRow) {
        long rowBytes = new Q8_0Row(cols).rowBytes();
        for (long r = fromRow; r < toRow; r++) {
            long o = r * cols * 4;
            long b = r * rowBytes;
            for (long c = 0; c < cols; c += GROUP, o += 4 * GROUP, b += Q8_0Row.BLOCK) {
                dequantGroup(stored, b, dst, o, (int) Math.min(GROUP, cols - c));
            }
        }
    }

    static void dequantGroup(MemorySegment stored, long b, MemorySegment dst, long o, int n) {
        float d = Kernels.f16(GgmlRow.d(stored, b));
        for (int j = 0; j < n; j++) {
            dst.set(F32, o + 4L * j, Q8_0Row.q(stored, b, j) * d);
        }
    }
}
