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
import dev.arica.formats.quant.Scheme;
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
 * fp32 inverse scale that overflows, a zero int scale; for the measuring kernels also a group of magnitudes outside
 * [2^-50, 2^50]) and the padded last group of a row go to the scalar code.
 *
 * <p>Every method uses the preferred species through static finals and takes no species argument: a method
 * compiled on its own (the per-group methods are, before the row loops are) must see constant species, or
 * the Vector API falls back to plain Java and runs several times slower than the scalar code. Tests run
 * other widths by starting the JVM with a smaller {@code -XX:MaxVectorSize}.
 *
 * <p>Tricks, all exact: max|x| is an integer max over {@code bits & 0x7fffffff} (no NaN fix-ups; a result of
 * 0x7f800000 or more means NaN or infinity); the signed extremes are integer maxima over the bits of
 * non-negative lanes and over {@code bits ^ 0x80000000} of negative ones; q4_0's signed maximum is the first lane
 * whose magnitude bits equal max|x| (a mask's trailing zeros); round half away from zero is
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

    /**
     * Bits of the smallest and largest max|x| of a group whose squares the measured kernels sum in float32 lanes
     * (2^-50, 2^50): squares stay normal floats, and a lane's sum between flushes cannot overflow. Other groups, and
     * all-zero ones aside, are measured by the scalar code in double.
     */
    static final int MEASURED_MIN_BITS = Float.floatToRawIntBits(0x1p-50f);
    static final int MEASURED_MAX_BITS = Float.floatToRawIntBits(0x1p50f);

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
        int amaxBits = absMaxBits(src, s, GROUP);
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

    /** Whether a group whose max|x| has these bits is summed in float32 lanes (see {@link #MEASURED_MIN_BITS}). */
    private static boolean measurable(int amaxBits) {
        return amaxBits <= 0 || amaxBits >= MEASURED_MIN_BITS && amaxBits <= MEASURED_MAX_BITS;
    }

    /** {@link #q8Group} adding the group's error to {@code err}'s lanes: {@link GroupErrors#SCALAR}, {@link GroupErrors#DONE} or {@link GroupErrors#NEW_MAX}. */
    private static int q8GroupMeasured(MemorySegment src, long s, MemorySegment dst, long b, GroupErrors err) {
        int n = F.length();
        int amaxBits = absMaxBits(src, s, GROUP);
        if (amaxBits >= INF_BITS || !measurable(amaxBits)) {
            return GroupErrors.SCALAR;
        }
        float d = Float.intBitsToFloat(amaxBits) / 127f;
        float id = d != 0f ? 1f / d : 0f;
        short d16 = Float.floatToFloat16(d);
        if (Kernels.isInf16(d16) || id == Float.POSITIVE_INFINITY) {
            return GroupErrors.SCALAR;
        }
        GgmlRow.putD(dst, b, d16);
        float dq = Kernels.f16(d16);
        FloatVector sig = FloatVector.fromArray(F, err.signalLanes, 0);
        FloatVector sq = FloatVector.fromArray(F, err.errorLanes, 0);
        FloatVector most = FloatVector.zero(F);
        for (int j = 0; j < GROUP; j += n) {
            FloatVector x = FloatVector.fromMemorySegment(F, src, s + 4L * j, LE);
            IntVector q = roundHalfAway(x.mul(id));
            store((ByteVector) q.convertShape(VectorOperators.I2B, B, 0), n, dst, b + CODES + j);
            FloatVector e = x.sub(((FloatVector) q.convert(VectorOperators.I2F, 0)).mul(dq)).abs();
            sig = x.fma(x, sig);
            sq = e.fma(e, sq);
            most = most.max(e);
            e.intoArray(err.errors, j);
        }
        sig.intoArray(err.signalLanes, 0);
        sq.intoArray(err.errorLanes, 0);
        return most.compare(VectorOperators.GT, err.max()).anyTrue() ? GroupErrors.NEW_MAX : GroupErrors.DONE;
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
        int amaxBits = absMaxBits(src, s, GROUP);
        if (amaxBits >= INF_BITS) {
            return false;
        }
        float m = signedMax(src, s, amaxBits);
        int n = F.length();
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

    /**
     * {@link #q8Rows} or {@link #q4Rows} (the GGML {@code scheme}) measuring the error of each group in the same pass
     * ({@link Quantizer} with an {@link ErrorStats}).
     */
    static void ggmlRowsMeasured(Scheme scheme, MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow,
            GroupErrors err, long indexBase) {
        boolean q8 = switch (scheme) {
            case Q8_0 -> true;
            case Q4_0 -> false;
            default -> throw new IllegalArgumentException("not a GGML scheme: " + scheme);
        };
        long full = cols / GROUP;
        int tail = (int) (cols % GROUP);
        int block = q8 ? Q8_0Row.BLOCK : Q4_0Row.BLOCK;
        long rowBytes = QuantLayout.of(scheme).rowBytes(cols);
        for (long r = fromRow; r < toRow; r++) {
            long s = r * cols * 4;
            long b = r * rowBytes;
            long index = indexBase + r * cols;
            for (long g = 0; g < full; g++, s += 4 * GROUP, b += block, index += GROUP) {
                int done = q8 ? q8GroupMeasured(src, s, dst, b, err) : q4GroupMeasured(src, s, dst, b, err);
                if (done == GroupErrors.SCALAR) {
                    ggmlScalarGroup(q8, src, s, GROUP, dst, b, r, g * GROUP, cols, err, index);
                } else {
                    err.counted(GROUP);
                    if (done == GroupErrors.NEW_MAX) {
                        err.scanMax(GROUP, index);
                    }
                }
                err.endGroup(g);
            }
            if (tail != 0) {
                ggmlScalarGroup(q8, src, s, tail, dst, b, r, full * GROUP, cols, err, index);
            }
            err.flushLanes();
        }
    }

    /** A group the vector code leaves to the scalar one: quantized, dequantized back, its error added. */
    private static void ggmlScalarGroup(boolean q8, MemorySegment src, long s, int n, MemorySegment dst, long b, long r,
            long col0, long cols, GroupErrors err, long index) {
        if (q8) {
            Q8_0Quantizer.group(src, s, n, dst, b, r, col0, cols);
            Q8_0Quantizer.dequantGroup(dst, b, err.valuesSegment, 0, n);
        } else {
            Q4_0Quantizer.group(src, s, n, dst, b, r, col0, cols);
            Q4_0Quantizer.dequantGroup(dst, b, err.valuesSegment, 0, n, err.codes);
        }
        err.add(src, s, n, index);
    }

    /** {@link #q4Group} adding the group's error to {@code err}'s lanes: {@link GroupErrors#SCALAR}, {@link GroupErrors#DONE} or {@link GroupErrors#NEW_MAX}. */
    private static int q4GroupMeasured(MemorySegment src, long s, MemorySegment dst, long b, GroupErrors err) {
        int amaxBits = absMaxBits(src, s, GROUP);
        if (amaxBits >= INF_BITS || !measurable(amaxBits)) {
            return GroupErrors.SCALAR;
        }
        float m = signedMax(src, s, amaxBits);
        int n = F.length();
        float d = m / -8f;
        float id = d != 0f ? 1f / d : 0f;
        short d16 = Float.floatToFloat16(d);
        if (Kernels.isInf16(d16) || Float.isInfinite(id)) {
            return GroupErrors.SCALAR;
        }
        GgmlRow.putD(dst, b, d16);
        float dq = Kernels.f16(d16);
        FloatVector sig = FloatVector.fromArray(F, err.signalLanes, 0);
        FloatVector sq = FloatVector.fromArray(F, err.errorLanes, 0);
        FloatVector most = FloatVector.zero(F);
        for (int j = 0; j < Q4_0Row.HALF; j += n) {
            FloatVector xl = FloatVector.fromMemorySegment(F, src, s + 4L * j, LE);
            FloatVector xh = FloatVector.fromMemorySegment(F, src, s + 4L * (j + Q4_0Row.HALF), LE);
            IntVector ql = ((IntVector) xl.mul(id).add(Q4_0Row.ZERO_POINT + 0.5f).convert(VectorOperators.F2I, 0))
                    .min(Q4_0Row.MAX_CODE);
            IntVector qh = ((IntVector) xh.mul(id).add(Q4_0Row.ZERO_POINT + 0.5f).convert(VectorOperators.F2I, 0))
                    .min(Q4_0Row.MAX_CODE);
            IntVector packed = ql.or(qh.lanewise(VectorOperators.LSHL, 4));
            store((ByteVector) packed.convertShape(VectorOperators.I2B, B, 0), n, dst, b + CODES + j);
            FloatVector el = xl.sub(((FloatVector) ql.sub(Q4_0Row.ZERO_POINT).convert(VectorOperators.I2F, 0)).mul(dq))
                    .abs();
            FloatVector eh = xh.sub(((FloatVector) qh.sub(Q4_0Row.ZERO_POINT).convert(VectorOperators.I2F, 0)).mul(dq))
                    .abs();
            sig = xh.fma(xh, xl.fma(xl, sig));
            sq = eh.fma(eh, el.fma(el, sq));
            most = most.max(el).max(eh);
            el.intoArray(err.errors, j);
            eh.intoArray(err.errors, j + Q4_0Row.HALF);
        }
        sig.intoArray(err.signalLanes, 0);
        sq.intoArray(err.errorLanes, 0);
        return most.compare(VectorOperators.GT, err.max()).anyTrue() ? GroupErrors.NEW_MAX : GroupErrors.DONE;
    }

    /** The bits of max|x| over {@code g} elements at byte {@code s}: 0x7f800000 or more for a NaN or an infinity. */
    private static int absMaxBits(MemorySegment src, long s, int g) {
        int n = F.length();
        IntVector acc = IntVector.zero(I);
        for (int j = 0; j < g; j += n) {
            acc = acc.max(IntVector.fromMemorySegment(I, src, s + 4L * j, LE).and(ABS));
        }
        return acc.reduceLanes(VectorOperators.MAX);
    }

    /**
     * q4_0's m: the first of the 32 elements at byte {@code s} whose magnitude has bits {@code amaxBits}, +0 for an
     * all-zero group. Found without a branch: a tie between +a and -a is rare in float32 weights, and a branch never
     * taken deoptimizes the compiled kernel the first time it is (measured: half a second of a 2 GB quantize).
     */
    private static float signedMax(MemorySegment src, long s, int amaxBits) {
        int n = F.length();
        long first = 0;
        for (int j = 0; j < GROUP; j += n) {
            first |= IntVector.fromMemorySegment(I, src, s + 4L * j, LE).and(ABS).eq(amaxBits).toLong() << j;
        }
        int sign = src.get(I32, s + 4L * Long.numberOfTrailingZeros(first)) & SIGN;
        return Float.intBitsToFloat(amaxBits | sign & (amaxBits | -amaxBits) >> 31);
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
        long extremes = extremeBits(src, s, g);
        int p = (int) (extremes >> 32);
        int q = (int) extremes;
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
            IntVector c = intCodes(FloatVector.fromMemorySegment(F, src, s + 4L * j, LE), sc, zp, asym, bits);
            storeIntCodes(c, bits, dst, codes + j / (8 / bits));
        }
        return true;
    }

    /**
     * The signed extremes of {@code g} elements at byte {@code s}, as bits: the largest non-negative float's in the high
     * int (Integer.MIN_VALUE when none), the largest magnitude of a negative one's in the low int (negative when none).
     */
    private static long extremeBits(MemorySegment src, long s, int g) {
        int n = F.length();
        IntVector pos = IntVector.broadcast(I, Integer.MIN_VALUE);
        IntVector neg = pos;
        for (int j = 0; j < g; j += n) {
            IntVector x = IntVector.fromMemorySegment(I, src, s + 4L * j, LE);
            pos = pos.max(x); // largest bits among non-negative floats = largest of them
            neg = neg.max(x.lanewise(VectorOperators.XOR, SIGN)); // likewise for the magnitudes of negative ones
        }
        return (long) pos.reduceLanes(VectorOperators.MAX) << 32 | neg.reduceLanes(VectorOperators.MAX) & 0xffffffffL;
    }

    /** An int group's codes of {@code x} for its stored scale {@code sc} and zero point {@code zp}. */
    private static IntVector intCodes(FloatVector x, float sc, int zp, boolean asym, int bits) {
        int mid = 1 << (bits - 1);
        IntVector c = roundHalfAway(x.div(sc));
        return asym ? c.add(zp).max(0).min((1 << bits) - 1) : c.max(-mid).min(mid - 1).add(mid);
    }

    /** Stores one vector of codes at byte {@code at}: a byte each for 8 bits, two nibbles a byte for 4. */
    private static void storeIntCodes(IntVector c, int bits, MemorySegment dst, long at) {
        ByteVector cb = (ByteVector) c.convertShape(VectorOperators.I2B, B, 0);
        if (bits == 8) {
            store(cb, F.length(), dst, at);
        } else {
            ShortVector pair = cb.reinterpretAsShorts(); // element 2i in the low byte, 2i+1 in the high byte
            pair = pair.or(pair.lanewise(VectorOperators.LSHR, 4));
            store((ByteVector) pair.convertShape(VectorOperators.S2B, B, 0), F.length() / 2, dst, at);
        }
    }

    /** {@link #intRows} measuring the error of each group in the same pass. */
    static void intRowsMeasured(QuantLayout layout, MemorySegment src, MemorySegment dst, long cols, long fromRow,
            long toRow, GroupErrors err, long indexBase) {
        IntRow geometry = new IntRow(layout, cols);
        int g = layout.groupSize();
        int bits = layout.bits();
        boolean asym = layout.asymmetric();
        long full = cols / g;
        int tail = (int) (cols % g);
        for (long r = fromRow; r < toRow; r++) {
            long row = r * geometry.rowBytes();
            long s = r * cols * 4;
            long index = indexBase + r * cols;
            for (long k = 0; k < full; k++, s += 4L * g, index += g) {
                int done = intGroupMeasured(bits, asym, g, src, s, dst, row + geometry.codesAt(k),
                        row + geometry.scaleAt(k), row + geometry.zeroPointsAt(), k, err);
                if (done == GroupErrors.SCALAR) {
                    intScalarGroup(geometry, src, s, g, dst, row, k, r, cols, err, index);
                } else {
                    err.counted(g);
                    if (done == GroupErrors.NEW_MAX) {
                        err.scanMax(g, index);
                    }
                }
                err.endGroup(k);
            }
            if (tail != 0) {
                intScalarGroup(geometry, src, s, tail, dst, row, full, r, cols, err, index);
            }
            err.flushLanes();
        }
    }

    /** Group {@code k} of row {@code r} left to the scalar code: quantized, dequantized back, its error added. */
    private static void intScalarGroup(IntRow geometry, MemorySegment src, long s, int n, MemorySegment dst, long row,
            long k, long r, long cols, GroupErrors err, long index) {
        IntQuantizer.group(geometry, src, s, n, dst, row, k, r, k * geometry.groupSize(), cols);
        IntQuantizer.dequantGroup(geometry, dst, row, k, err.valuesSegment, 0, n, err.codes);
        err.add(src, s, n, index);
    }

    /** {@link #intGroup} adding the group's error to {@code err}'s lanes: {@link GroupErrors#SCALAR}, {@link GroupErrors#DONE} or {@link GroupErrors#NEW_MAX}. */
    private static int intGroupMeasured(int bits, boolean asym, int g, MemorySegment src, long s, MemorySegment dst,
            long codes, long scaleAt, long zpAt, long k, GroupErrors err) {
        int n = F.length();
        int mid = 1 << (bits - 1);
        int top = (1 << bits) - 1;
        long extremes = extremeBits(src, s, g);
        int p = (int) (extremes >> 32);
        int q = (int) extremes;
        if (p >= INF_BITS || q >= INF_BITS || !measurable(Math.max(p, q))) {
            return GroupErrors.SCALAR;
        }
        float hi = p > 0 ? Float.intBitsToFloat(p) : 0f;
        float lo = q > 0 ? -Float.intBitsToFloat(q) : 0f;
        float d = asym ? (hi - lo) / top : Math.max(hi, -lo) / (mid - 1);
        short s16 = Float.floatToFloat16(d);
        float sc = Kernels.f16(s16);
        if (Kernels.isInf16(s16) || sc == 0f) {
            return GroupErrors.SCALAR;
        }
        dst.set(RowGeometry.F16, scaleAt, s16);
        int zp = mid;
        if (asym) {
            zp = Kernels.clamp(Kernels.roundHalfAway(-lo / sc), 0, top);
            IntRow.putZeroPoint(dst, zpAt, k, bits, zp);
        }
        FloatVector sig = FloatVector.fromArray(F, err.signalLanes, 0);
        FloatVector sq = FloatVector.fromArray(F, err.errorLanes, 0);
        FloatVector most = FloatVector.zero(F);
        for (int j = 0; j < g; j += n) {
            FloatVector x = FloatVector.fromMemorySegment(F, src, s + 4L * j, LE);
            IntVector c = intCodes(x, sc, zp, asym, bits);
            storeIntCodes(c, bits, dst, codes + j / (8 / bits));
            FloatVector e = x.sub(((FloatVector) c.sub(zp).convert(VectorOperators.I2F, 0)).mul(sc)).abs();
            sig = x.fma(x, sig);
            sq = e.fma(e, sq);
            most = most.max(e);
            e.intoArray(err.errors, j);
        }
        sig.intoArray(err.signalLanes, 0);
        sq.intoArray(err.errorLanes, 0);
        return most.compare(VectorOperators.GT, err.max()).anyTrue() ? GroupErrors.NEW_MAX : GroupErrors.DONE;
    }

    // ---------------------------------------------------------------- error sums

    /**
     * Adds sum x^2 and sum e^2, e = |x - y| in float32, of elements [from, to) of two float32 arrays to {@code sums[0]}
     * and {@code sums[1]}, in double as the scalar code does (only the order of additions differs), and returns the
     * largest e.
     */
    static double errorBlock(MemorySegment x, MemorySegment y, long from, long to, double[] sums) {
        DoubleVector sig = DoubleVector.zero(D);
        DoubleVector err = DoubleVector.zero(D);
        FloatVector max = FloatVector.zero(FD);
        int lanes = D.length();
        long i = from;
        for (; i + lanes <= to; i += lanes) {
            FloatVector xf = FloatVector.fromMemorySegment(FD, x, 4 * i, LE);
            FloatVector ef = xf.sub(FloatVector.fromMemorySegment(FD, y, 4 * i, LE)).abs();
            DoubleVector a = (DoubleVector) xf.convertShape(VectorOperators.F2D, D, 0);
            DoubleVector d = (DoubleVector) ef.convertShape(VectorOperators.F2D, D, 0);
            sig = a.fma(a, sig);
            err = d.fma(d, err);
            max = max.max(ef);
        }
        double s = sig.reduceLanes(VectorOperators.ADD);
        double e = err.reduceLanes(VectorOperators.ADD);
        double m = max.reduceLanes(VectorOperators.MAX);
        for (; i < to; i++) {
            float a = x.get(Kernels.F32, 4 * i);
            double d = Math.abs(a - y.get(Kernels.F32, 4 * i));
            s += (double) a * a;
            e += d * d;
            m = Math.max(m, d);
        }
        sums[0] += s;
        sums[1] += e;
        return m;
    }
}
