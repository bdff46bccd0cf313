package dev.arica.quantize;

import static dev.arica.quantize.Kernels.F32;

import dev.arica.formats.quant.IntRow;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.MemorySegment;

/**
 * INT8 and INT4 in ONNX Runtime MatMulNBits order, symmetric or asymmetric, groups of
 * {@code layout.groupSize()}, rows laid out by {@link IntRow}.
 *
 * <p>With B = bits, the scale s = fp16(d) is used for the quantization itself (so dequantization errors are
 * within half a step of the stored scale); all roundings are half away from zero, in fp32:
 * <ul>
 *   <li>symmetric: d = max|x| / (2^(B-1) - 1); q = clamp(round(x / s), -2^(B-1), 2^(B-1) - 1); code = q + 2^(B-1)
 *       (the implicit zero point). Value = (code - 2^(B-1)) * s.</li>
 *   <li>asymmetric: lo = min(0, min x), hi = max(0, max x); d = (hi - lo) / (2^B - 1); zp = clamp(round(-lo / s),
 *       0, 2^B - 1); code = clamp(round(x / s) + zp, 0, 2^B - 1). Value = (code - zp) * s.</li>
 *   <li>when s is 0 (an all-zero group, or one so small that fp16(d) underflows) the codes and, when
 *       asymmetric, the zero point are 2^(B-1), the zero point of the symmetric form: every value is 0.</li>
 * </ul>
 */
public final class IntQuantizer implements Quantizer {
    private final QuantLayout layout;
    private final int bits;
    private final boolean asymmetric;
    private final int group;

    IntQuantizer(QuantLayout layout) {
        if (layout.scheme() != Scheme.INT8 && layout.scheme() != Scheme.INT4) {
            throw new IllegalArgumentException("not an integer scheme: " + layout.describe());
        }
        this.layout = layout;
        this.bits = layout.bits();
        this.asymmetric = layout.asymmetric();
        this.group = layout.groupSize();
    }

    @Override
    public QuantLayout layout() {
        return layout;
    }

    public int bits() {
        return bits;
    }

    public boolean asymmetric() {
        return asymmetric;
    }

    @Override
    public void quantizeRows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow) {
        Kernels.checkQuantizeArgs(this, src, dst, cols, fromRow, toRow);
        if (Kernels.useVector(src, dst)) {
            VectorKernels.intRows(layout, src, dst, cols, fromRow, toRow);
        } else {
            scalarRows(layout, src, dst, cols, fromRow, toRow);
        }
    }

    static void scalarRows(QuantLayout layout, MemorySegment src, MemorySegment dst, long cols, long fromRow,
            long toRow) {
        IntRow geometry = new IntRow(layout, cols);
        int g = layout.groupSize();
        for (long r = fromRow; r < toRow; r++) {
            long row = r * geometry.rowBytes();
            long s = r * cols * 4;
            long k = 0;
            for (long c = 0; c < cols; c += g, s += 4L * g, k++) {
                group(geometry, src, s, (int) Math.min(g, cols - c), dst, row, k, r, c, cols);
            }
        }
    }

    /**
     * Quantizes group {@code k} of a row: {@code n <= groupSize} elements at byte {@code s} (zero-padded) into the
     * row stored at byte {@code row}.
     */
    static void group(IntRow geometry, MemorySegment src, long s, int n, MemorySegment dst, long row, long k, long r,
            long col0, long cols) {
        int bits = geometry.bits();
        int g = geometry.groupSize();
        boolean asymmetric = geometry.asymmetric();
        float lo = 0f;
        float hi = 0f;
        for (int j = 0; j < n; j++) {
            float x = src.get(F32, s + 4L * j);
            if (!(Math.abs(x) <= Float.MAX_VALUE)) {
                Kernels.throwFirstNonFinite(src, s, n, r, col0, cols);
            }
            if (x > hi) {
                hi = x;
            }
            if (x < lo) {
                lo = x;
            }
        }
        int mid = 1 << (bits - 1);
        int top = (1 << bits) - 1;
        float d = scale(bits, asymmetric, lo, hi);
        short s16 = Float.floatToFloat16(d);
        if (Kernels.isInf16(s16)) {
            throw QuantizationException.scaleOverflow(r, col0, cols, g, d);
        }
        float sc = Kernels.f16(s16);
        geometry.putScale(dst, row, k, s16);
        int zp = mid;
        if (asymmetric) {
            zp = zeroPoint(bits, lo, sc);
            geometry.putZeroPoint(dst, row, k, zp);
        }
        long codes = row + geometry.codesAt(k);
        for (int j = 0; j < g; j += 2) {
            int c0 = code(Kernels.at(src, s, j, n), sc, zp, asymmetric, mid, top);
            int c1 = code(Kernels.at(src, s, j + 1, n), sc, zp, asymmetric, mid, top);
            IntRow.putPair(dst, codes, j, bits, c0, c1);
        }
    }

    /**
     * A group's scale from lo = min(0, min x) and hi = max(0, max x): (hi - lo) / top asymmetric, max|x| / (mid - 1)
     * symmetric.
     */
    static float scale(int bits, boolean asymmetric, float lo, float hi) {
        int mid = 1 << (bits - 1);
        int top = (1 << bits) - 1;
        return asymmetric ? (hi - lo) / top : Math.max(hi, -lo) / (mid - 1);
    }

    /** An asymmetric group's zero point for lo = min(0, min x) and its stored scale sc (mid when sc is 0). */
    static int zeroPoint(int bits, float lo, float sc) {
        return sc == 0f ? 1 << (bits - 1) : Kernels.clamp(Kernels.roundHalfAway(-lo / sc), 0, (1 << bits) - 1);
    }

    /**
     * Writes group {@code k} of the row at byte {@code row} with a scale, zero point and codes chosen elsewhere (a
     * calibrated method): the groups of a row in order, as {@link IntRow#putZeroPoint} needs; the zero point is
     * stored only when the layout is asymmetric.
     */
    static void putGroup(IntRow geometry, MemorySegment dst, long row, long k, short s16, int zp, int[] codes, int at) {
        geometry.putScale(dst, row, k, s16);
        if (geometry.asymmetric()) {
            geometry.putZeroPoint(dst, row, k, zp);
        }
        long at0 = row + geometry.codesAt(k);
        for (int j = 0; j < geometry.groupSize(); j += 2) {
            IntRow.putPair(dst, at0, j, geometry.bits(), codes[at + j], codes[at + j + 1]);
        }
    }

    private static int code(float x, float sc, int zp, boolean asymmetric, int mid, int top) {
        if (sc == 0f) {
            return zp;
        }
        int q = Kernels.roundHalfAway(x / sc);
        return asymmetric ? Kernels.clamp(q + zp, 0, top) : Kernels.clamp(q, -mid, mid - 1) + mid;
    }

    @Override
    public void quantizeRows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow, ErrorStats error,
            long indexBase) {
        Kernels.quantizeMeasured(this, src, dst, cols, fromRow, toRow, error, indexBase);
    }

    @Override
    public void dequantizeRows(MemorySegment stored, MemorySegment dst, long cols, long fromRow, long toRow) {
        Kernels.checkDequantizeArgs(this, stored, dst, cols, fromRow, toRow);
        scalarDequant(layout, stored, dst, cols, fromRow, toRow);
    }

    static void scalarDequant(QuantLayout layout, MemorySegment stored, MemorySegment dst, long cols, long fromRow,
            long toRow) {
        IntRow geometry = new IntRow(layout, cols);
        int g = layout.groupSize();
        int[] q = new int[g];
        for (long r = fromRow; r < toRow; r++) {
            long row = r * geometry.rowBytes();
            long o = r * cols * 4;
            long k = 0;
            for (long c = 0; c < cols; c += g, o += 4L * g, k++) {
                dequantGroup(geometry, stored, row, k, dst, o, (int) Math.min(g, cols - c), q);
            }
        }
    }

    /** Group {@code k} of the row stored at byte {@code row} into {@code n} float32 at byte {@code o}; {@code q}: scratch. */
    static void dequantGroup(IntRow geometry, MemorySegment stored, long row, long k, MemorySegment dst, long o, int n,
            int[] q) {
        float sc = Kernels.f16(geometry.scale(stored, row, k));
        int zp = geometry.zeroPoint(stored, row, k);
        if (geometry.bits() == 8) { // read in place; nibbles are faster decoded a group at a time, then scaled
            long codes = row + geometry.codesAt(k);
            for (int j = 0; j < n; j++) {
                dst.set(F32, o + 4L * j, (geometry.code(stored, codes, j) - zp) * sc);
            }
        } else {
            geometry.codes(stored, row, k, q);
            for (int j = 0; j < n; j++) {
                dst.set(F32, o + 4L * j, (q[j] - zp) * sc);
            }
        }
    }
}
