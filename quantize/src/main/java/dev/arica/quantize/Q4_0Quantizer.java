package dev.arica.quantize;

import static dev.arica.formats.quant.GgmlRow.GROUP;
import static dev.arica.formats.quant.Q4_0Row.HALF;
import static dev.arica.quantize.Kernels.F32;

import dev.arica.formats.quant.GgmlRow;
import dev.arica.formats.quant.Q4_0Row;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.MemorySegment;

/**
 * GGML Q4_0, blocks laid out by {@link Q4_0Row}.
 *
 * <p>Per group, as ggml's {@code quantize_row_q4_0_ref}: {@code m} = the signed element of largest magnitude
 * (the first one on ties; 0 for an all-zero group), {@code d = m / -8}, {@code id = d != 0 ? 1 / d : 0},
 * {@code q = min(15, (int) (x * id + 8.5f))} (fp32, truncated toward zero), the scale stored as fp16(d).
 * Value = (q - 8) * fp16(d). An all-zero group stores d = -0 (fp16 0x8000, as ggml) and codes 8.
 *
 * <p>Where ggml is undefined (|m| below about 2.4e-37, so {@code 1 / d} overflows) NaN gives 0 and codes are
 * clamped to [0, 15]; the stored scale is then 0 anyway.
 */
public final class Q4_0Quantizer implements Quantizer {
    private static final QuantLayout LAYOUT = QuantLayout.of(Scheme.Q4_0);

    Q4_0Quantizer() {}

    @Override
    public QuantLayout layout() {
        return LAYOUT;
    }

    @Override
    public void quantizeRows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow) {
        Kernels.checkQuantizeArgs(this, src, dst, cols, fromRow, toRow);
        if (Kernels.useVector(src, dst)) {
            VectorKernels.q4Rows(src, dst, cols, fromRow, toRow);
        } else {
            scalarRows(src, dst, cols, fromRow, toRow);
        }
    }

    static void scalarRows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow) {
        long rowBytes = new Q4_0Row(cols).rowBytes();
        for (long r = fromRow; r < toRow; r++) {
            long s = r * cols * 4;
            long b = r * rowBytes;
            for (long c = 0; c < cols; c += GROUP, s += 4 * GROUP, b += Q4_0Row.BLOCK) {
                group(src, s, (int) Math.min(GROUP, cols - c), dst, b, r, c, cols);
            }
        }
    }

    /** One group of {@code n <= 32} elements at byte {@code s}, zero-padded, into the block at byte {@code b}. */
    static void group(MemorySegment src, long s, int n, MemorySegment dst, long b, long row, long col0, long cols) {
        float amax = 0f;
        float m = 0f;
        for (int j = 0; j < n; j++) {
            float x = src.get(F32, s + 4L * j);
            float a = Math.abs(x);
            if (!(a <= Float.MAX_VALUE)) {
                Kernels.throwFirstNonFinite(src, s, n, row, col0, cols);
            }
            if (amax < a) {
                amax = a;
                m = x;
            }
        }
        finish(src, s, n, dst, b, m, row, col0, cols);
    }

    /** Writes the block once the signed maximum {@code m} is known. */
    static void finish(MemorySegment src, long s, int n, MemorySegment dst, long b, float m, long row, long col0,
            long cols) {
        float d = scale(m);
        float id = d != 0f ? 1f / d : 0f;
        short d16 = Float.floatToFloat16(d);
        if (Kernels.isInf16(d16)) {
            throw QuantizationException.scaleOverflow(row, col0, cols, GROUP, d);
        }
        GgmlRow.putD(dst, b, d16);
        for (int j = 0; j < HALF; j++) {
            Q4_0Row.putPair(dst, b, j, code(Kernels.at(src, s, j, n) * id), code(Kernels.at(src, s, j + HALF, n) * id));
        }
    }

    /**
     * Writes a block whose scale and codes were chosen elsewhere (a calibrated method): fp16 {@code d16} and the 32
     * codes 0..15 from {@code codes[at]}, in this layout's byte order.
     */
    /** A block's scale from its element of largest magnitude m (signed): m maps to code 0, value -8 d. */
    static float scale(float m) {
        return m / -8f;
    }

    static void putBlock(MemorySegment dst, long b, short d16, int[] codes, int at) {
        GgmlRow.putD(dst, b, d16);
        for (int j = 0; j < HALF; j++) {
            Q4_0Row.putPair(dst, b, j, codes[at + j], codes[at + j + HALF]);
        }
    }

    private static int code(float xid) {
        int q = (int) (xid + (Q4_0Row.ZERO_POINT + 0.5f));
        return q < 0 ? 0 : Math.min(Q4_0Row.MAX_CODE, q);
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
            VectorKernels.q4Dequant(stored, dst, cols, fromRow, toRow);
        } else {
            scalarDequant(stored, dst, cols, fromRow, toRow);
        }
    }

    static void scalarDequant(MemorySegment stored, MemorySegment dst, long cols, long fromRow, long toRow) {
        long rowBytes = new Q4_0Row(cols).rowBytes();
        int[] codes = new int[GROUP];
        for (long r = fromRow; r < toRow; r++) {
            long o = r * cols * 4;
            long b = r * rowBytes;
            for (long c = 0; c < cols; c += GROUP, o += 4 * GROUP, b += Q4_0Row.BLOCK) {
                dequantGroup(stored, b, dst, o, (int) Math.min(GROUP, cols - c), codes);
            }
        }
    }

    /** The block at byte {@code b} into {@code n} float32 at byte {@code o}; {@code codes} holds a block's codes. */
    static void dequantGroup(MemorySegment stored, long b, MemorySegment dst, long o, int n, int[] codes) {
        float d = Kernels.f16(GgmlRow.d(stored, b));
        Q4_0Row.unpack(stored, b, codes); // decoded first, a byte at a time: the loop below stays tight
        for (int j = 0; j < n; j++) {
            dst.set(F32, o + 4L * j, (codes[j] - Q4_0Row.ZERO_POINT) * d);
        }
    }
}
