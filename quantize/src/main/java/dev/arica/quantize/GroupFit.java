package dev.arica.quantize;

import dev.arica.formats.quant.IntRow;
import dev.arica.formats.quant.Q4_0Row;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.MemorySegment;

/**
 * The grid of a 4- or 8-bit group scheme seen by the calibrated methods: a value is (code - zp) * s with code in
 * [0, top], s an fp16 scale and zp fixed (q4_0: 8, symmetric int: 2^(B-1)) or free (asymmetric int). It chooses a
 * group's scale and zero point, by the scheme's own round-to-nearest rule or by a search for the least (weighted)
 * squared error, and hands finished groups to the scheme's quantizer class, which owns the byte layout.
 *
 * <p>Parameters travel packed in an int: the fp16 scale's bits in the low 16 bits, the zero point above.
 */
final class GroupFit {
    /** Candidate scales tried per group by the search, on each side of round-to-nearest's (llama.cpp uses 9). */
    static final int STEPS = 10;

    final QuantLayout layout;
    final int group;
    final int top;
    /** The fixed zero point, or -1 when it is free (asymmetric). */
    final int fixedZero;

    GroupFit(QuantLayout layout) {
        if (layout.scheme() == Scheme.Q8_0) {
            throw new IllegalArgumentException("the calibrated methods write q4_0, int4 and int8, not q8_0");
        }
        this.layout = layout;
        this.group = layout.groupSize();
        this.top = (1 << layout.bits()) - 1;
        this.fixedZero = layout.scheme() == Scheme.Q4_0 ? Q4_0Row.ZERO_POINT
                : layout.asymmetric() ? -1 : 1 << (layout.bits() - 1);
    }

    static int pack(short s16, int zp) {
        return (s16 & 0xffff) | zp << 16;
    }

    static float scale(int params) {
        return Kernels.f16((short) params);
    }

    static int zero(int params) {
        return params >>> 16;
    }

    /** The code of {@code x} on the grid of {@code params}: round half away from zero of x / s, plus zp, clamped. */
    int code(float x, int params) {
        float s = scale(params);
        int zp = zero(params);
        return s == 0f ? zp : Kernels.clamp(Kernels.roundHalfAway(x / s) + zp, 0, top);
    }

    /** The value of {@code code} on the grid of {@code params}. */
    static float value(int code, int params) {
        return (code - zero(params)) * scale(params);
    }

    /**
     * Round-to-nearest's parameters for the {@code n} values at {@code x[at]} (the rest of the group is zero padding),
     * as the scheme's own quantizer chooses them; {@code row} and {@code col0} name the group in an overflow error.
     */
    int rtn(float[] x, int at, int n, long row, long col0, long cols) {
        if (layout.scheme() == Scheme.Q4_0) {
            return pack(half(Q4_0Quantizer.scale(largestMagnitude(x, at, n)), row, col0, cols), fixedZero);
        }
        float lo = 0f;
        float hi = 0f;
        for (int j = 0; j < n; j++) {
            lo = Math.min(lo, x[at + j]);
            hi = Math.max(hi, x[at + j]);
        }
        short s16 = half(IntQuantizer.scale(layout.bits(), layout.asymmetric(), lo, hi), row, col0, cols);
        return pack(s16, fixedZero >= 0 ? fixedZero : IntQuantizer.zeroPoint(layout.bits(), lo, Kernels.f16(s16)));
    }

    private short half(float d, long row, long col0, long cols) {
        short s16 = Float.floatToFloat16(d);
        if (Kernels.isInf16(s16)) {
            throw QuantizationException.scaleOverflow(row, col0, cols, group, d);
        }
        return s16;
    }

    /** Sum over the group of w (x - value)^2 (w = 1 when {@code w} is null), in double. */
    double error(float[] x, int at, int n, float[] w, int wAt, int params) {
        double e = 0;
        for (int j = 0; j < n; j++) {
            double d = x[at + j] - value(code(x[at + j], params), params);
            e += (w == null ? 1.0 : w[wAt + j]) * d * d;
        }
        return e;
    }

    /**
     * The parameters of least weighted squared error among round-to-nearest's and {@code 2 STEPS + 1} candidate
     * scales around it, each refined by least squares on the codes it gives (llama.cpp's make_qx_quants and
     * make_qkx2_quants idea); {@code w} holds a weight per element (the input channel's activation importance), or
     * null for plain squared error. Never worse than round-to-nearest on that error.
     */
    int search(float[] x, int at, int n, float[] w, int wAt, long row, long col0, long cols) {
        int best = rtn(x, at, n, row, col0, cols);
        double bestError = error(x, at, n, w, wAt, best);
        if (bestError == 0) {
            return best;
        }
        int found = fixedZero >= 0 ? searchFixed(x, at, n, w, wAt) : searchFree(x, at, n, w, wAt);
        if (found != -1 && !Kernels.isInf16((short) found)) {
            double e = error(x, at, n, w, wAt, found);
            if (e < bestError) {
                best = found;
            }
        }
        return best;
    }

    /** The element of x[at, at + n) with the largest magnitude, signed (the first of equal ones; 0 for none). */
    private static float largestMagnitude(float[] x, int at, int n) {
        float amax = 0f;
        float m = 0f;
        for (int j = 0; j < n; j++) {
            float a = Math.abs(x[at + j]);
            if (amax < a) {
                amax = a;
                m = x[at + j];
            }
        }
        return m;
    }

    /** A fixed zero point Z: codes q - Z in [-Z, top - Z], the candidate that best explains x after least squares. */
    private int searchFixed(float[] x, int at, int n, float[] w, int wAt) {
        float m = largestMagnitude(x, at, n);
        if (m == 0f) {
            return -1;
        }
        int z = fixedZero;
        double bestScore = -1;
        double bestScale = 0;
        // The largest element maps to -Z (the longer side of the grid) or to top - Z, each with steps around it.
        for (int side = 0; side < 2; side++) {
            float end = side == 0 ? -z : top - z;
            for (int is = -STEPS; is <= STEPS; is++) {
                float iscale = (end + 0.1f * is * Math.signum(end)) / m;
                double sumLx = 0;
                double sumL2 = 0;
                for (int j = 0; j < n; j++) {
                    float v = x[at + j];
                    int l = Kernels.clamp(Kernels.roundHalfAway(iscale * v), -z, top - z);
                    double wj = w == null ? 1.0 : w[wAt + j];
                    sumLx += wj * v * l;
                    sumL2 += wj * l * l;
                }
                // Least squares scale sumLx / sumL2 removes sumLx^2 / sumL2 of the error: the larger, the better.
                if (sumL2 > 0 && sumLx * sumLx / sumL2 > bestScore) {
                    bestScore = sumLx * sumLx / sumL2;
                    bestScale = sumLx / sumL2;
                }
            }
        }
        if (bestScore < 0 || bestScale <= 0) {
            return -1;
        }
        return pack(Float.floatToFloat16((float) bestScale), z);
    }

    /** A free zero point: codes in [0, top] for x ~ s * code + m, m <= 0; each candidate refined by weighted least squares. */
    private int searchFree(float[] x, int at, int n, float[] w, int wAt) {
        float lo = Float.MAX_VALUE;
        float hi = -Float.MAX_VALUE;
        for (int j = 0; j < n; j++) {
            lo = Math.min(lo, x[at + j]);
            hi = Math.max(hi, x[at + j]);
        }
        lo = Math.min(lo, 0f);
        hi = Math.max(hi, 0f);
        if (hi == lo) {
            return -1;
        }
        int best = -1;
        double bestError = Double.MAX_VALUE;
        for (int is = -STEPS; is <= STEPS; is++) {
            float iscale = (top + 0.1f * is) / (hi - lo);
            double sw = 0, sl = 0, sl2 = 0, sx = 0, slx = 0;
            for (int j = 0; j < n; j++) {
                float v = x[at + j];
                int l = Kernels.clamp(Kernels.roundHalfAway(iscale * (v - lo)), 0, top);
                double wj = w == null ? 1.0 : w[wAt + j];
                sw += wj;
                sl += wj * l;
                sl2 += wj * l * l;
                sx += wj * v;
                slx += wj * l * v;
            }
            double det = sw * sl2 - sl * sl;
            if (!(det > 0)) {
                continue;
            }
            double s = (sw * slx - sx * sl) / det;
            double min = (sl2 * sx - sl * slx) / det;
            if (min > 0) {
                min = 0;
                s = slx / sl2;
            }
            if (!(s > 0)) {
                continue;
            }
            short s16 = Float.floatToFloat16((float) s);
            float sc = Kernels.f16(s16);
            if (sc == 0f || Kernels.isInf16(s16)) {
                continue;
            }
            int candidate = pack(s16, Kernels.clamp(Kernels.roundHalfAway((float) (-min / sc)), 0, top));
            double e = error(x, at, n, w, wAt, candidate);
            if (e < bestError) {
                bestError = e;
                best = candidate;
            }
        }
        return best;
    }

    /** Bytes of one row of {@code cols} columns in the layout. */
    long rowBytes(long cols) {
        return layout.rowBytes(cols);
    }

    /**
     * Writes group {@code k} of the stored row at byte {@code row}: its parameters and the {@code group} codes from
     * {@code codes[at]} (padding included), through the scheme's quantizer class.
     */
    void put(MemorySegment dst, long row, IntRow geometry, long k, int params, int[] codes, int at) {
        if (layout.scheme() == Scheme.Q4_0) {
            Q4_0Quantizer.putBlock(dst, row + k * Q4_0Row.BLOCK, (short) params, codes, at);
        } else {
            IntQuantizer.putGroup(geometry, dst, row, k, (short) params, zero(params), codes, at);
        }
    }

    /** The int geometry of a row of {@code cols} (null for q4_0, whose blocks are fixed). */
    IntRow geometry(long cols) {
        return layout.scheme() == Scheme.Q4_0 ? null : new IntRow(layout, cols);
    }
}
