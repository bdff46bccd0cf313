package dev.arica.quantize;

import static dev.arica.formats.quant.GgmlRow.CODES;
import static dev.arica.formats.quant.GgmlRow.GROUP;
import static dev.arica.quantize.Kernels.I16;
import static dev.arica.quantize.Kernels.I8;

import dev.arica.formats.quant.GgmlRow;
import dev.arica.formats.quant.IntRow;
import dev.arica.formats.quant.Q4_0Row;
import dev.arica.formats.quant.Q8_0Row;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.RowGeometry;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API kernels; loaded only when {@link Kernels#VECTOR} holds. Every kernel gives the bytes of its
 * scalar counterpart: a group the vector code does not handle (non-finite input, an fp16 scale overflow, an
 * fp32 inverse scale that overflows, a q4_0 tie between +m and -m, a zero int scale) and the padded last group
 * of a row go to the scalar code.
 *
 * <p>Every method uses the preferred species through static finals and takes no species argument: a method
 * compiled on its own (the per-group methods are, before the row loops are) must see constant species, or
 * the Vector API falls back to plain Java and runs several times slower than the scalar code. Tests run
 * other widths by starting the JVM with a smaller {@code -XX:MaxVectorSize}.
 *
 * <p>Tricks, all exact: max|x| is an integer max over {@code bits & 0x7fffffff} (no NaN fix-ups; a result of
 * 0x7f800000 or more means NaN or infinity); the signed extremes are integer maxima over the bits of
 * non-negative lanes and over {@code bits ^ 0x80000000} of negative ones; round half away from zero is
 * truncation of {@code v + copySign(0.49999997f, v)}, equal to C's roundf for every float (checked over all
 * 2^32 bit patterns).
 */
final class VectorKernels {
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(LE);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(LE);
    private static final int ABS = 0x7fffffff;
    private static final int SIGN = 0x80000000;
    private static final int INF_BITS = 0x7f800000;
    private static final float HALF = Math.nextDown(0.5f);

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    static final VectorSpecies<Byte> B = byteSpecies(F.length());
    static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED;
    /** Floats that widen to one preferred double vector. */
    static final VectorSpecies<Float> FD = VectorSpecies.of(float.class, VectorShape.forBitSize(Math.max(64, D.length() * 32)));

    private VectorKernels() {}

    static int preferredBits() {
        return F.vectorBitSize();
    }

    /**
     * row[i] += sum over k of b[k] * a[k * n + i], i < n: a lane of the row stays in a register while the rank's terms
     * are added in k order, each as a multiply then an add (no fused multiply-add), as {@link LowRank#scalar} does.
     */
    static void lowRankRow(float[] row, float[] a, float[] b, int n) {
        int upper = F.loopBound(n);
        int i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector acc = FloatVector.fromArray(F, row, i);
            for (int k = 0; k < b.length; k++) {
                acc = acc.add(FloatVector.fromArray(F, a, k * n + i).mul(b[k]));
            }
            acc.intoArray(row, i);
        }
        LowRank.scalar(row, a, b, n, i);
    }

    /**
     * y[yo + i] += a * x[xo + i] for i < n, each a fused multiply-add, as {@link Kernels#scalarAxpy} (lane-wise fma is
     * Math.fma, so both give the same bits).
     */
    static void axpy(float[] y, int yo, float a, float[] x, int xo, int n) {
        int upper = F.loopBound(n);
        FloatVector av = FloatVector.broadcast(F, a);
        int i = 0;
        for (; i < upper; i += F.length()) {
            FloatVector.fromArray(F, x, xo + i).fma(av, FloatVector.fromArray(F, y, yo + i)).intoArray(y, yo + i);
        }
        Kernels.scalarAxpy(y, yo + i, a, x, xo + i, n - i);
    }

    private static VectorSpecies<Byte> byteSpecies(int lanes) {
        return VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, lanes * 8)));
    }

    /** Stores the first {@code count} lanes of {@code v} (count is 1, 2, 4, 8 or v's length). */
    private static void store(ByteVector v, int count, MemorySegment dst, long at) {
        if (count == v.length()) {
            v.intoMemorySegment(dst, at, LE);
            return;
        }
        switch (count) {
            case 8 -> dst.set(I64, at, v.reinterpretAsLongs().lane(0));
            case 4 -> dst.set(I32, at, v.reinterpretAsInts().lane(0));
            case 2 -> dst.set(I16, at, v.reinterpretAsShorts().lane(0));
            case 1 -> dst.set(I8, at, v.lane(0));
            default -> throw new AssertionError("cannot store " + count + " lanes of " + v.species());
        }
    }

    /** Round half away from zero to int lanes (values whose magnitude fits an int). */
    private static IntVector roundHalfAway(FloatVector p) {
        FloatVector half = FloatVector.broadcast(F, HALF);
        FloatVector h = half.blend(half.neg(), p.lt(0f));
        return (IntVector) p.add(h).convert(VectorOperators.F2I, 0);
    }

    // ---------------------------------------------------------------- firstNonFinite

    static long firstNonFinite(MemorySegment f32, long count) {
        int n = I.length();
        long step = 4L * n;
        long i = 0;
        for (; i + step <= count; i += step) {
            long o = 4 * i;
            IntVector m = IntVector.fromMemorySegment(I, f32, o, LE).and(ABS)
                    .max(IntVector.fromMemorySegment(I, f32, o + 4L * n, LE).and(ABS))
                    .max(IntVector.fromMemorySegment(I, f32, o + 8L * n, LE).and(ABS))
                    .max(IntVector.fromMemorySegment(I, f32, o + 12L * n, LE).and(ABS));
            if (m.compare(VectorOperators.GE, INF_BITS).anyTrue()) {
                return Kernels.scalarFirstNonFinite(f32, i, i + step);
            }
        }
        return Kernels.scalarFirstNonFinite(f32, i, count);
    }

    // ---------------------------------------------------------------- Q8_0

    static void q8Rows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow) {
        long full = cols / GROUP;
        int tail = (int) (cols % GROUP);
        long rowBytes = new Q8_0Row(cols).rowBytes();
        for (long r = fromRow; r < toRow; r++) {
            long s = r * cols * 4;
            long b = r * rowBytes;
            for (long g = 0; g < full; g++, s += 4 * GROUP, b += Q8_0Row.BLOCK) {
                if (!q8Group(src, s, dst, b)) {
                    Q8_0Quantizer.group(src, s, GROUP, dst, b, r, g * GROUP, cols);
                }
            }
            if (tail != 0) {
                Q8_0Quantizer.group(src, s, tail, dst, b, r, full * GROUP, cols);
            }
        }
    }

    /** One full group at byte {@code s} into the block at {@code b}; false when the scalar code must do it. */
    private static boolean q8Group(MemorySegment src, long s, MemorySegment dst, long b) {
        int n = F.length();
        IntVector acc = IntVector.zero(I);
        for (int j = 0; j < GROUP; j += n) {
            acc = acc.max(IntVector.fromMemorySegment(I, src, s + 4L * j, LE).and(ABS));
        }
        int amaxBits = acc.reduceLanes(VectorOperators.MAX);
        if (amaxBits >= INF_BITS) {
            return false;
        }
        float d = Float.intBitsToFloat(amaxBits) / 127f;
        float id = d != 0f ? 1f / d : 0f;
        short d16 = Float.floatToFloat16(d);
        if (Kernels.isInf16(d16) || id == Float.POSITIVE_INFINITY) {
            return false;
        }
        GgmlRow.putD(dst, b, d16);
        for (int j = 0; j < GROUP; j += n) {
            FloatVector p = FloatVector.fromMemorySegment(F, src, s + 4L * j, LE).mul(id);
            IntVector q = roundHalfAway(p);
            store((ByteVector) q.convertShape(VectorOperators.I2B, B, 0), n, dst, b + CODES + j);
        }
        return true;
    }

    static void q8Dequant(MemorySegment stored, MemorySegment dst, long cols, long fromRow, long toRow) {
        if (B.length() != F.length()) {
            Q8_0Quantizer.scalarDequant(stored, dst, cols, fromRow, toRow);
            return;
        }
        long full = cols / GROUP;
        int tail = (int) (cols % GROUP);
        long rowBytes = new Q8_0Row(cols).rowBytes();
        for (long r = fromRow; r < toRow; r++) {
            long o = r * cols * 4;
            long b = r * rowBytes;
            for (long g = 0; g < full; g++, o += 4 * GROUP, b += Q8_0Row.BLOCK) {
                q8DequantGroup(stored, b, dst, o);
            }
            if (tail != 0) {
                Q8_0Quantizer.dequantGroup(stored, b, dst, o, tail);
            }
        }
    }

    private static void q8DequantGroup(MemorySegment stored, long b,
            MemorySegment dst, long o) {
        float d = Kernels.f16(GgmlRow.d(stored, b));
        int n = F.length();
        for (int j = 0; j < GROUP; j += n) {
            ByteVector q = ByteVector.fromMemorySegment(B, stored, b + CODES + j, LE);
            FloatVector x = (FloatVector) q.convertShape(VectorOperators.B2F, F, 0);
            x.mul(d).intoMemorySegment(dst, o + 4L * j, LE);
        }
    }

    // ---------------------------------------------------------------- Q4_0

    static void q4Rows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow) {
        long full = cols / GROUP;
        int tail = (int) (cols % GROUP);
        long rowBytes = new Q4_0Row(cols).rowBytes();
        for (long r = fromRow; r < toRow; r++) {
            long s = r * cols * 4;
            long b = r * rowBytes;
            for (long g = 0; g < full; g++, s += 4 * GROUP, b += Q4_0Row.BLOCK) {
                if (!q4Group(src, s, dst, b)) {
                    Q4_0Quantizer.group(src, s, GROUP, dst, b, r, g * GROUP, cols);
                }
            }
            if (tail != 0) {
                Q4_0Quantizer.group(src, s, tail, dst, b, r, full * GROUP, cols);
            }
        }
    }

    private static boolean q4Group(MemorySegment src, long s, MemorySegment dst, long b) {
        int n = F.length();
        IntVector pos = IntVector.broadcast(I, Integer.MIN_VALUE);
        IntVector neg = pos;
        for (int j = 0; j < GROUP; j += n) {
            IntVector x = IntVector.fromMemorySegment(I, src, s + 4L * j, LE);
            pos = pos.max(x); // largest bits among non-negative floats = largest of them
            neg = neg.max(x.lanewise(VectorOperators.XOR, SIGN)); // likewise for the magnitudes of negative ones
        }
        int p = pos.reduceLanes(VectorOperators.MAX);
        int q = neg.reduceLanes(VectorOperators.MAX);
        if (p >= INF_BITS || q >= INF_BITS) {
            return false;
        }
        float m;
        if (p > q) {
            m = Float.intBitsToFloat(p);
        } else if (q > p) {
            m = q == 0 ? 0f : -Float.intBitsToFloat(q); // all -0: ggml keeps its initial +0
        } else {
            return false; // +a and -a both present: the first one wins, found by the scalar scan
        }
        float d = m / -8f;
        float id = d != 0f ? 1f / d : 0f;
        short d16 = Float.floatToFloat16(d);
        if (Kernels.isInf16(d16) || Float.isInfinite(id)) {
            return false;
        }
        GgmlRow.putD(dst, b, d16);
        for (int j = 0; j < Q4_0Row.HALF; j += n) {
            FloatVector lo = FloatVector.fromMemorySegment(F, src, s + 4L * j, LE).mul(id).add(Q4_0Row.ZERO_POINT + 0.5f);
            FloatVector hi = FloatVector.fromMemorySegment(F, src, s + 4L * (j + Q4_0Row.HALF), LE).mul(id)
                    .add(Q4_0Row.ZERO_POINT + 0.5f);
            IntVector ql = ((IntVector) lo.convert(VectorOperators.F2I, 0)).min(Q4_0Row.MAX_CODE);
            IntVector qh = ((IntVector) hi.convert(VectorOperators.F2I, 0)).min(Q4_0Row.MAX_CODE);
            IntVector packed = ql.or(qh.lanewise(VectorOperators.LSHL, 4));
            store((ByteVector) packed.convertShape(VectorOperators.I2B, B, 0), n, dst, b + CODES + j);
        }
        return true;
    }

    static void q4Dequant(MemorySegment stored, MemorySegment dst, long cols, long fromRow, long toRow) {
        if (B.length() != F.length()) {
            Q4_0Quantizer.scalarDequant(stored, dst, cols, fromRow, toRow);
            return;
        }
        long full = cols / GROUP;
        int tail = (int) (cols % GROUP);
        long rowBytes = new Q4_0Row(cols).rowBytes();
        int[] codes = new int[GROUP];
        for (long r = fromRow; r < toRow; r++) {
            long o = r * cols * 4;
            long b = r * rowBytes;
            for (long g = 0; g < full; g++, o += 4 * GROUP, b += Q4_0Row.BLOCK) {
                q4DequantGroup(stored, b, dst, o);
            }
            if (tail != 0) {
                Q4_0Quantizer.dequantGroup(stored, b, dst, o, tail, codes);
            }
        }
    }

    private static void q4DequantGroup(MemorySegment stored, long b,
            MemorySegment dst, long o) {
        float d = Kernels.f16(GgmlRow.d(stored, b));
        int n = F.length();
        for (int j = 0; j < Q4_0Row.HALF; j += n) {
            ByteVector packed = ByteVector.fromMemorySegment(B, stored, b + CODES + j, LE);
            ByteVector lo = packed.and((byte) Q4_0Row.MAX_CODE);
            ByteVector hi = packed.lanewise(VectorOperators.LSHR, 4).and((byte) Q4_0Row.MAX_CODE);
            ((FloatVector) lo.convertShape(VectorOperators.B2F, F, 0)).sub(Q4_0Row.ZERO_POINT).mul(d)
                    .intoMemorySegment(dst, o + 4L * j, LE);
            ((FloatVector) hi.convertShape(VectorOperators.B2F, F, 0)).sub(Q4_0Row.ZERO_POINT).mul(d)
                    .intoMemorySegment(dst, o + 4L * (j + Q4_0Row.HALF), LE);
        }
    }

    // ---------------------------------------------------------------- INT8 / INT4

    static void intRows(QuantLayout layout, MemorySegment src, MemorySegment dst, long cols, long fromRow,
            long toRow) {
        IntRow geometry = new IntRow(layout, cols);
        int g = layout.groupSize();
        int bits = layout.bits();
        boolean asym = layout.asymmetric();
        long full = cols / g;
        int tail = (int) (cols % g);
        for (long r = fromRow; r < toRow; r++) {
            long row = r * geometry.rowBytes();
            long s = r * cols * 4;
            for (long k = 0; k < full; k++, s += 4L * g) {
                // offsets, not the geometry: handed an object, the compiled group ran twice as slow (JMH int4a)
                if (!intGroup(bits, asym, g, src, s, dst, row + geometry.codesAt(k), row + geometry.scaleAt(k),
                        row + geometry.zeroPointsAt(), k)) {
                    IntQuantizer.group(geometry, src, s, g, dst, row, k, r, k * g, cols);
                }
            }
            if (tail != 0) {
                IntQuantizer.group(geometry, src, s, tail, dst, row, full, r, full * g, cols);
            }
        }
    }

    /**
     * One full group of {@code g} elements at byte {@code s}: codes at {@code codes}, the scale at {@code scaleAt},
     * zero point {@code k} into the zero points at {@code zpAt}; false when the scalar code must do it.
     */
    private static boolean intGroup(int bits, boolean asym, int g, MemorySegment src, long s, MemorySegment dst,
            long codes, long scaleAt, long zpAt, long k) {
        int n = F.length();
        int mid = 1 << (bits - 1);
        int top = (1 << bits) - 1;
        IntVector pos = IntVector.broadcast(I, Integer.MIN_VALUE);
        IntVector neg = pos;
        for (int j = 0; j < g; j += n) {
            IntVector x = IntVector.fromMemorySegment(I, src, s + 4L * j, LE);
            pos = pos.max(x);
            neg = neg.max(x.lanewise(VectorOperators.XOR, SIGN));
        }
        int p = pos.reduceLanes(VectorOperators.MAX);
        int q = neg.reduceLanes(VectorOperators.MAX);
        if (p >= INF_BITS || q >= INF_BITS) {
            return false;
        }
        float hi = p > 0 ? Float.intBitsToFloat(p) : 0f; // max(0, max x)
        float lo = q > 0 ? -Float.intBitsToFloat(q) : 0f; // min(0, min x)
        float d = asym ? (hi - lo) / top : Math.max(hi, -lo) / (mid - 1);
        short s16 = Float.floatToFloat16(d);
        float sc = Kernels.f16(s16);
        if (Kernels.isInf16(s16) || sc == 0f) {
            return false;
        }
        dst.set(RowGeometry.F16, scaleAt, s16);
        int zp = mid;
        if (asym) {
            zp = Kernels.clamp(Kernels.roundHalfAway(-lo / sc), 0, top);
            IntRow.putZeroPoint(dst, zpAt, k, bits, zp);
        }
        for (int j = 0; j < g; j += n) {
            IntVector c = roundHalfAway(FloatVector.fromMemorySegment(F, src, s + 4L * j, LE).div(sc));
            c = asym ? c.add(zp).max(0).min(top) : c.max(-mid).min(mid - 1).add(mid);
            ByteVector cb = (ByteVector) c.convertShape(VectorOperators.I2B, B, 0);
            if (bits == 8) {
                store(cb, n, dst, codes + j);
            } else {
                ShortVector pair = cb.reinterpretAsShorts(); // element 2i in the low byte, 2i+1 in the high byte
                pair = pair.or(pair.lanewise(VectorOperators.LSHR, 4));
                store((ByteVector) pair.convertShape(VectorOperators.S2B, B, 0), n / 2, dst, codes + j / 2);
            }
        }
        return true;
    }

    // ---------------------------------------------------------------- error sums

    /**
     * Adds sum x^2 and sum (x - y)^2 of elements [from, to) of two float32 arrays to {@code sums[0]} and
     * {@code sums[1]}, in double as the scalar code does (only the order of additions differs), and returns
     * the largest |x - y| computed in double.
     */
    static double errorBlock(MemorySegment x, MemorySegment y, long from, long to, double[] sums) {
        DoubleVector sig = DoubleVector.zero(D);
        DoubleVector err = DoubleVector.zero(D);
        DoubleVector max = DoubleVector.zero(D);
        int lanes = D.length();
        long i = from;
        for (; i + lanes <= to; i += lanes) {
            DoubleVector a = (DoubleVector) FloatVector.fromMemorySegment(FD, x, 4 * i, LE).convertShape(VectorOperators.F2D, D, 0);
            DoubleVector b = (DoubleVector) FloatVector.fromMemorySegment(FD, y, 4 * i, LE).convertShape(VectorOperators.F2D, D, 0);
            DoubleVector d = a.sub(b);
            sig = a.fma(a, sig);
            err = d.fma(d, err);
            max = max.max(d.abs());
        }
        double s = sig.reduceLanes(VectorOperators.ADD);
        double e = err.reduceLanes(VectorOperators.ADD);
        double m = max.reduceLanes(VectorOperators.MAX);
        for (; i < to; i++) {
            double a = x.get(Kernels.F32, 4 * i);
            double d = Math.abs(a - y.get(Kernels.F32, 4 * i));
            s += a * a;
            e += d * d;
            m = Math.max(m, d);
        }
        sums[0] += s;
        sums[1] += e;
        return m;
    }
}
