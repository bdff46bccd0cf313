package dev.arica.quantize;

import static dev.arica.quantize.Kernels.F32;
import static dev.arica.quantize.Kernels.I16;
import static dev.arica.quantize.Kernels.I8;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.MemorySegment;

/**
 * INT8 and INT4 in ONNX Runtime MatMulNBits order, symmetric or asymmetric, groups of
 * {@code layout.groupSize()}. Per row: the codes of every group ({@code groupSize * bits / 8} bytes a group;
 * INT8 one uint8 per element; INT4 element 2i in the low nibble of byte i, 2i+1 in the high nibble), then one
 * fp16 scale per group, then (asymmetric only) the zero points, one byte each for INT8, two to a byte for INT4
 * (even group in the low nibble; an odd group count leaves the last high nibble 0).
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
        int g = layout.groupSize();
        long rowBytes = layout.rowBytes(cols);
        long codeBytes = layout.rowCodeBytes(cols);
        long groups = layout.groups(cols);
        for (long r = fromRow; r < toRow; r++) {
            long row = r * rowBytes;
            long s = r * cols * 4;
            long k = 0;
            for (long c = 0; c < cols; c += g, s += 4L * g, k++) {
                group(layout, src, s, (int) Math.min(g, cols - c), dst, row, codeBytes, groups, k, r, c, cols);
            }
        }
    }

    /**
     * Quantizes group {@code k} of a row: {@code n <= groupSize} elements at byte {@code s} (zero-padded) into the
     * row stored at byte {@code row} ({@code codeBytes} of codes, then {@code groups} scales, then zero points).
     */
    static void group(QuantLayout layout, MemorySegment src, long s, int n, MemorySegment dst, long row,
            long codeBytes, long groups, long k, long r, long col0, long cols) {
        int bits = layout.bits();
        int g = layout.groupSize();
        float lo = 0f;
        float hi = 0f;
        float amax = 0f;
        for (int j = 0; j < n; j++) {
            float x = src.get(F32, s + 4L * j);
            float a = Math.abs(x);
            if (!(a <= Float.MAX_VALUE)) {
                Kernels.throwFirstNonFinite(src, s, n, r, col0, cols);
            }
            if (a > amax) {
                amax = a;
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
        float d = layout.asymmetric() ? (hi - lo) / top : amax / (mid - 1);
        short s16 = Float.floatToFloat16(d);
        if (Kernels.isInf16(s16)) {
            throw QuantizationException.scaleOverflow(r, col0, cols, g, d);
        }
        float sc = Kernels.f16(s16);
        dst.set(I16, row + codeBytes + 2 * k, s16);
        int zp = mid;
        if (layout.asymmetric()) {
            if (sc != 0f) {
                zp = Kernels.clamp(Kernels.roundHalfAway(-lo / sc), 0, top);
            }
            writeZeroPoint(dst, row + codeBytes + 2 * groups, k, bits, zp);
        }
        long codes = row + k * layout.groupCodeBytes();
        for (int j = 0; j < g; j += 2) {
            int c0 = code(Kernels.at(src, s, j, n), sc, zp, layout.asymmetric(), mid, top);
            int c1 = code(Kernels.at(src, s, j + 1, n), sc, zp, layout.asymmetric(), mid, top);
            if (bits == 8) {
                dst.set(I8, codes + j, (byte) c0);
                dst.set(I8, codes + j + 1, (byte) c1);
            } else {
                dst.set(I8, codes + j / 2, (byte) (c0 | c1 << 4));
            }
        }
    }

    private static int code(float x, float sc, int zp, boolean asymmetric, int mid, int top) {
        if (sc == 0f) {
            return zp;
        }
        int q = Kernels.roundHalfAway(x / sc);
        return asymmetric ? Kernels.clamp(q + zp, 0, top) : Kernels.clamp(q, -mid, mid - 1) + mid;
    }

    /** Writes zero point {@code k} into the row's zero-point bytes at {@code at}. */
    static void writeZeroPoint(MemorySegment dst, long at, long k, int bits, int zp) {
        if (bits == 8) {
            dst.set(I8, at + k, (byte) zp);
        } else if ((k & 1) == 0) {
            dst.set(I8, at + k / 2, (byte) zp); // high nibble 0 until the next group fills it
        } else {
            long p = at + k / 2;
            dst.set(I8, p, (byte) (dst.get(I8, p) & 0x0f | zp << 4));
        }
    }

    static int readZeroPoint(MemorySegment stored, long at, long k, int bits) {
        if (bits == 8) {
            return stored.get(I8, at + k) & 0xff;
        }
        int b = stored.get(I8, at + k / 2) & 0xff;
        return (k & 1) == 0 ? b & 15 : b >>> 4;
    }

    @Override
    public void dequantizeRows(MemorySegment stored, MemorySegment dst, long cols, long fromRow, long toRow) {
        Kernels.checkDequantizeArgs(this, stored, dst, cols, fromRow, toRow);
        scalarDequant(layout, stored, dst, cols, fromRow, toRow);
    }

    static void scalarDequant(QuantLayout layout, MemorySegment stored, MemorySegment dst, long cols, long fromRow,
            long toRow) {
        int g = layout.groupSize();
        int bits = layout.bits();
        long rowBytes = layout.rowBytes(cols);
        long codeBytes = layout.rowCodeBytes(cols);
        long groups = layout.groups(cols);
        int mid = 1 << (bits - 1);
        for (long r = fromRow; r < toRow; r++) {
            long row = r * rowBytes;
            long o = r * cols * 4;
            long k = 0;
            for (long c = 0; c < cols; c += g, o += 4L * g, k++) {
                float sc = Kernels.f16(stored.get(I16, row + codeBytes + 2 * k));
                int zp = layout.asymmetric() ? readZeroPoint(stored, row + codeBytes + 2 * groups, k, bits) : mid;
                long codes = row + k * layout.groupCodeBytes();
                int n = (int) Math.min(g, cols - c);
                for (int j = 0; j < n; j++) {
                    int q;
                    if (bits == 8) {
                        q = stored.get(I8, codes + j) & 0xff;
                    } else {
                        int b = stored.get(I8, codes + j / 2) & 0xff;
                        q = (j & 1) == 0 ? b & 15 : b >>> 4;
                    }
                    dst.set(F32, o + 4L * j, (q - zp) * sc);
                }
            }
        }
    }
}
