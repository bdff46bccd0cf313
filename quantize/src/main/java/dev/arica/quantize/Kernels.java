package dev.arica.quantize;

import dev.arica.formats.FloatCast;
import dev.arica.formats.quant.QuantLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Shared scalar helpers and the choice between the vector and the scalar kernels; {@link #axpy} is public for the
 * end-to-end tuning's products ({@code dev.arica.quantize.tune}).
 */
public final class Kernels {
    static final ValueLayout.OfFloat F32 = FloatCast.F32_LE;
    static final ValueLayout.OfShort I16 = FloatCast.I16_LE;
    static final ValueLayout.OfByte I8 = ValueLayout.JAVA_BYTE;

    /** {@code -Darica.scalar=true} forces the scalar kernels (read once). */
    static final boolean SCALAR_FORCED = Boolean.getBoolean("arica.scalar");

    /**
     * Whether the vector kernels are used: not forced off, jdk.incubator.vector resolved in the boot layer
     * (the launcher adds it), and a preferred vector of at least 128 bits (below that the Vector API runs
     * in plain Java and is slower than the scalar loops).
     */
    static final boolean VECTOR = !SCALAR_FORCED && vectorAvailable();

    private Kernels() {}

    private static boolean vectorAvailable() {
        if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
            return false;
        }
        try {
            return VectorKernels.preferredBits() >= 128;
        } catch (LinkageError e) {
            return false;
        }
    }

    /**
     * Whether the Vector API can read or write this segment: native (mapped, allocated) segments and heap
     * segments over {@code byte[]}. Other heap segments go through the scalar kernels (same results).
     */
    static boolean vectorizable(MemorySegment s) {
        return s.isNative() || s.heapBase().map(o -> o instanceof byte[]).orElse(true);
    }

    static boolean useVector(MemorySegment a, MemorySegment b) {
        return VECTOR && vectorizable(a) && vectorizable(b);
    }

    /** y[yo + i] += a * x[xo + i] for i < n (fused multiply-adds): the vector kernel when in use, else the scalar one. */
    public static void axpy(float[] y, int yo, float a, float[] x, int xo, int n) {
        if (VECTOR) {
            VectorKernels.axpy(y, yo, a, x, xo, n);
        } else {
            scalarAxpy(y, yo, a, x, xo, n);
        }
    }

    static void scalarAxpy(float[] y, int yo, float a, float[] x, int xo, int n) {
        for (int i = 0; i < n; i++) {
            y[yo + i] = Math.fma(x[xo + i], a, y[yo + i]);
        }
    }

    /**
     * The measured quantize of a round-to-nearest scheme ({@link Quantizer#quantizeRows(MemorySegment, MemorySegment,
     * long, long, long, ErrorStats, long)}): its fused vector kernel where usable, else the scalar kernel and
     * {@link #measureRows}.
     */
    static void quantizeMeasured(Quantizer q, MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow,
            ErrorStats error, long indexBase) {
        checkQuantizeArgs(q, src, dst, cols, fromRow, toRow);
        if (!useVector(src, dst)) {
            q.quantizeRows(src, dst, cols, fromRow, toRow);
            measureRows(q, src, dst, cols, fromRow, toRow, error, indexBase);
            return;
        }
        QuantLayout layout = q.layout();
        GroupErrors measured = new GroupErrors(VectorKernels.F.length(), layout.groupSize());
        switch (layout.scheme()) {
            case Q8_0, Q4_0 -> VectorKernels.ggmlRowsMeasured(layout.scheme(), src, dst, cols, fromRow, toRow, measured,
                    indexBase);
            case INT8, INT4 -> VectorKernels.intRowsMeasured(layout, src, dst, cols, fromRow, toRow, measured, indexBase);
        }
        measured.into(error);
    }

    /**
     * Adds the error of stored rows {@code [fromRow, toRow)} to {@code error}, dequantizing one row at a time (the
     * measurement of quantizers without a fused kernel, and the scalar twin of the fused ones).
     */
    static void measureRows(Quantizer q, MemorySegment src, MemorySegment stored, long cols, long fromRow, long toRow,
            ErrorStats error, long indexBase) {
        long rowBytes = q.layout().rowBytes(cols);
        MemorySegment row = MemorySegment.ofArray(new byte[Math.toIntExact(cols * 4)]);
        for (long r = fromRow; r < toRow; r++) {
            q.dequantizeRows(stored.asSlice(r * rowBytes, rowBytes), row, cols, 0, 1);
            error.add(src.asSlice(r * cols * 4, cols * 4), row, cols, indexBase + r * cols);
        }
    }

    /** Round half away from zero (C's roundf) to int; saturates like a Java cast; NaN gives 0. */
    static int roundHalfAway(float v) {
        // |v| + 0.5 is exact in double for every float below 2^29, and floor is exact.
        double a = Math.floor(Math.abs((double) v) + 0.5);
        return (int) Math.copySign(a, v);
    }

    static int clamp(int v, int lo, int hi) {
        return v < lo ? lo : Math.min(v, hi);
    }

    static boolean isInf16(short h) {
        return (h & 0x7fff) == 0x7c00;
    }

    static float f16(short h) {
        return Float.float16ToFloat(h);
    }

    /** Element {@code j} of a group read at byte offset {@code s}, or the zero padding past {@code n}. */
    static float at(MemorySegment src, long s, int j, int n) {
        return j < n ? src.get(F32, s + 4L * j) : 0f;
    }

    /** Throws for the first non-finite of the {@code n} elements at {@code s} (row {@code row}, column {@code col0}). */
    static void throwFirstNonFinite(MemorySegment src, long s, int n, long row, long col0, long cols) {
        for (int j = 0; j < n; j++) {
            float x = src.get(F32, s + 4L * j);
            if (!Float.isFinite(x)) {
                throw QuantizationException.nonFinite(row, col0 + j, cols, x);
            }
        }
        throw new AssertionError("no non-finite element in row " + row + " from column " + col0);
    }

    static long scalarFirstNonFinite(MemorySegment f32, long from, long count) {
        for (long i = from; i < count; i++) {
            if ((Float.floatToRawIntBits(f32.get(F32, 4 * i)) & 0x7fffffff) >= 0x7f800000) {
                return i;
            }
        }
        return -1;
    }

    static void checkQuantizeArgs(Quantizer q, MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow) {
        if (cols < 0 || fromRow < 0 || toRow < fromRow) {
            throw new IllegalArgumentException("bad rows [" + fromRow + ", " + toRow + ") or cols " + cols);
        }
        long need = Math.multiplyExact(Math.multiplyExact(toRow, cols), 4L);
        if (src.byteSize() < need) {
            throw new IllegalArgumentException("source holds " + src.byteSize() + " bytes, rows up to " + toRow + " of "
                    + cols + " float32 need " + need);
        }
        long out = q.layout().bytes(toRow, cols);
        if (dst.byteSize() < out) {
            throw new IllegalArgumentException("destination holds " + dst.byteSize() + " bytes, " + q.layout().describe()
                    + " rows up to " + toRow + " of " + cols + " need " + out);
        }
    }

    static void checkDequantizeArgs(Quantizer q, MemorySegment stored, MemorySegment dst, long cols, long fromRow,
            long toRow) {
        if (cols < 0 || fromRow < 0 || toRow < fromRow) {
            throw new IllegalArgumentException("bad rows [" + fromRow + ", " + toRow + ") or cols " + cols);
        }
        long in = q.layout().bytes(toRow, cols);
        if (stored.byteSize() < in) {
            throw new IllegalArgumentException("stored tensor holds " + stored.byteSize() + " bytes, "
                    + q.layout().describe() + " rows up to " + toRow + " of " + cols + " need " + in);
        }
        long need = Math.multiplyExact(Math.multiplyExact(toRow, cols), 4L);
        if (dst.byteSize() < need) {
            throw new IllegalArgumentException("destination holds " + dst.byteSize() + " bytes, rows up to " + toRow
                    + " of " + cols + " float32 need " + need);
        }
    }
}
