package dev.arica.quantize;

import dev.arica.formats.FloatCast;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Test data, the layouts under test, and a way to call each kernel path directly. */
final class Fixtures {
    private Fixtures() {}

    static final List<QuantLayout> LAYOUTS = List.of(
            QuantLayout.of(Scheme.Q8_0),
            QuantLayout.of(Scheme.Q4_0),
            new QuantLayout(Scheme.INT8, 128, false),
            new QuantLayout(Scheme.INT8, 128, true),
            new QuantLayout(Scheme.INT8, 16, true),
            new QuantLayout(Scheme.INT8, 64, false),
            new QuantLayout(Scheme.INT4, 32, false),
            new QuantLayout(Scheme.INT4, 32, true),
            new QuantLayout(Scheme.INT4, 16, false),
            new QuantLayout(Scheme.INT4, 256, true));

    /** Row lengths: multiples of the groups and not (172 = 5 * 32 + 12, 33, 17, 1, 300). */
    static final int[] COLS = {172, 33, 17, 32, 1, 300, 512};

    /**
     * Ways to run a kernel: the scalar kernel, the vector kernel (on the JVM's preferred species, whatever
     * {@code -XX:MaxVectorSize} made it; the pom runs some tests again at 64, 128 and 256 bits), and the public
     * entry point.
     */
    enum Path {
        SCALAR, VECTOR, PUBLIC;

        boolean vector() {
            return this == VECTOR;
        }
    }

    static void quantize(Path path, QuantLayout layout, MemorySegment src, long rows, long cols, MemorySegment dst) {
        switch (path) {
            case PUBLIC -> Quantizer.of(layout).quantize(src, rows, cols, dst);
            case SCALAR -> {
                switch (layout.scheme()) {
                    case Q8_0 -> Q8_0Quantizer.scalarRows(src, dst, cols, 0, rows);
                    case Q4_0 -> Q4_0Quantizer.scalarRows(src, dst, cols, 0, rows);
                    default -> IntQuantizer.scalarRows(layout, src, dst, cols, 0, rows);
                }
            }
            case VECTOR -> {
                switch (layout.scheme()) {
                    case Q8_0 -> VectorKernels.q8Rows(src, dst, cols, 0, rows);
                    case Q4_0 -> VectorKernels.q4Rows(src, dst, cols, 0, rows);
                    default -> VectorKernels.intRows(layout, src, dst, cols, 0, rows);
                }
            }
        }
    }

    /**
     * Quantizes as {@link #quantize} and returns the error measured on the way: the public entry point, the fused
     * vector kernel, or the scalar definition (the scalar kernel, its rows dequantized, every element added alone).
     */
    static ErrorStats quantizeMeasured(Path path, QuantLayout layout, MemorySegment src, int rows, int cols,
            MemorySegment dst, long indexBase) {
        ErrorStats error = new ErrorStats();
        switch (path) {
            case PUBLIC -> Quantizer.of(layout).quantizeRows(src, dst, cols, 0, rows, error, indexBase);
            case SCALAR -> {
                quantize(Path.SCALAR, layout, src, rows, cols, dst);
                float[] x = floats(src, rows * cols);
                MemorySegment back = MemorySegment.ofArray(new float[rows * cols]);
                dequantize(Path.SCALAR, layout, dst, rows, cols, back);
                for (int i = 0; i < x.length; i++) {
                    error.add(x[i], back.getAtIndex(FloatCast.F32_LE, i), indexBase + i);
                }
            }
            case VECTOR -> {
                GroupErrors measured = new GroupErrors(VectorKernels.F.length(), layout.groupSize());
                switch (layout.scheme()) {
                    case Q8_0, Q4_0 -> VectorKernels.ggmlRowsMeasured(layout.scheme(), src, dst, cols, 0, rows, measured, indexBase);
                    default -> VectorKernels.intRowsMeasured(layout, src, dst, cols, 0, rows, measured, indexBase);
                }
                measured.into(error);
            }
        }
        return error;
    }

    /** The error of {@code values} against {@code x}, one element at a time: what every measured path must give. */
    static ErrorStats referenceError(float[] x, float[] values, long indexBase) {
        ErrorStats error = new ErrorStats();
        for (int i = 0; i < x.length; i++) {
            error.add(x[i], values[i], indexBase + i);
        }
        return error;
    }

    /**
     * Same count, largest error and its index; sums within 1e-4 relative (the vector kernels sum squares in float32
     * lanes between flushes into double, see {@link GroupErrors}).
     */
    static void assertSameError(ErrorStats want, ErrorStats got, String what) {
        org.junit.jupiter.api.Assertions.assertEquals(want.count(), got.count(), what + ": count");
        org.junit.jupiter.api.Assertions.assertEquals(want.maxAbsError(), got.maxAbsError(), what + ": max |error|");
        org.junit.jupiter.api.Assertions.assertEquals(want.maxAbsErrorIndex(), got.maxAbsErrorIndex(),
                what + ": index of the max |error|");
        org.junit.jupiter.api.Assertions.assertEquals(want.signalSumSquares(), got.signalSumSquares(),
                1e-4 * want.signalSumSquares(), what + ": sum x^2");
        org.junit.jupiter.api.Assertions.assertEquals(want.errorSumSquares(), got.errorSumSquares(),
                1e-4 * want.errorSumSquares(), what + ": sum e^2");
    }

    static void dequantize(Path path, QuantLayout layout, MemorySegment stored, long rows, long cols,
            MemorySegment dst) {
        switch (path) {
            case PUBLIC -> Quantizer.of(layout).dequantize(stored, rows, cols, dst);
            case SCALAR -> {
                switch (layout.scheme()) {
                    case Q8_0 -> Q8_0Quantizer.scalarDequant(stored, dst, cols, 0, rows);
                    case Q4_0 -> Q4_0Quantizer.scalarDequant(stored, dst, cols, 0, rows);
                    default -> IntQuantizer.scalarDequant(layout, stored, dst, cols, 0, rows);
                }
            }
            case VECTOR -> {
                switch (layout.scheme()) {
                    case Q8_0 -> VectorKernels.q8Dequant(stored, dst, cols, 0, rows);
                    case Q4_0 -> VectorKernels.q4Dequant(stored, dst, cols, 0, rows);
                    default -> IntQuantizer.scalarDequant(layout, stored, dst, cols, 0, rows);
                }
            }
        }
    }

    static MemorySegment segment(Arena arena, float[] x) {
        MemorySegment s = arena.allocate(4L * x.length + 1, 1).asSlice(1, 4L * x.length); // unaligned on purpose
        MemorySegment.copy(x, 0, s, FloatCast.F32_LE, 0, x.length);
        return s;
    }

    static float[] floats(MemorySegment s, int n) {
        float[] out = new float[n];
        MemorySegment.copy(s, FloatCast.F32_LE, 0, out, 0, n);
        return out;
    }

    static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    /** Kinds of test data. */
    enum Data {
        GAUSSIAN, UNIFORM, MIXED, TIES, ZEROS, DENORMAL, TINY, HUGE, HALVES
    }

    static final Data[] ALL_DATA = Data.values();

    /** Every layout with every kind of data: the parameters of the tests that sweep all schemes. */
    static java.util.stream.Stream<org.junit.jupiter.params.provider.Arguments> layoutsByData() {
        java.util.List<org.junit.jupiter.params.provider.Arguments> out = new java.util.ArrayList<>();
        for (QuantLayout layout : LAYOUTS) {
            for (Data kind : ALL_DATA) {
                out.add(org.junit.jupiter.params.provider.Arguments.of(layout, kind));
            }
        }
        return out.stream();
    }

    /** {@code rows * cols} values of a kind; HALVES puts exact rounding ties into every scheme's groups. */
    static float[] data(Data kind, QuantLayout layout, int rows, int cols, long seed) {
        Random rnd = new Random(seed);
        float[] x = new float[rows * cols];
        int size = layout.groupSize();
        switch (kind) {
            case GAUSSIAN -> fill(x, i -> (float) (rnd.nextGaussian() * 0.02));
            case UNIFORM -> fill(x, i -> rnd.nextFloat() * 2 - 1);
            case MIXED -> {
                // per group a magnitude from 1e-8 to 1e4, per element a further factor of up to 1e3
                float[] mag = new float[rows * cols / Math.min(size, 16) + 2];
                for (int i = 0; i < mag.length; i++) {
                    mag[i] = (float) Math.pow(10, -8 + 12 * rnd.nextDouble());
                }
                fill(x, i -> (float) (rnd.nextGaussian() * mag[i / 16] * Math.pow(10, -3 * rnd.nextDouble())));
            }
            case TIES -> {
                fill(x, i -> rnd.nextFloat() * 2 - 1);
                for (int r = 0; r < rows; r++) {
                    for (int c0 = 0; c0 < cols; c0 += 32) {
                        int n = Math.min(32, cols - c0);
                        float a = 1 + rnd.nextInt(4);
                        int p1 = rnd.nextInt(n);
                        int p2 = rnd.nextInt(n);
                        boolean negFirst = rnd.nextBoolean();
                        x[r * cols + c0 + Math.min(p1, p2)] = negFirst ? -a : a;
                        if (p1 != p2) {
                            x[r * cols + c0 + Math.max(p1, p2)] = rnd.nextInt(3) == 0 ? (negFirst ? -a : a) : (negFirst ? a : -a);
                        }
                    }
                }
            }
            case ZEROS -> {
                fill(x, i -> (float) rnd.nextGaussian());
                for (int r = 0; r < rows; r++) {
                    for (int c0 = 0; c0 < cols; c0 += 16) {
                        int pick = rnd.nextInt(4);
                        for (int c = c0; c < Math.min(cols, c0 + 16); c++) {
                            switch (pick) {
                                case 0 -> x[r * cols + c] = 0f;
                                case 1 -> x[r * cols + c] = -0f;
                                case 2 -> x[r * cols + c] = rnd.nextBoolean() ? 0f : -0f;
                                default -> { }
                            }
                        }
                    }
                }
                if (rows > 1) {
                    java.util.Arrays.fill(x, cols, 2 * cols, 0f);
                }
            }
            case DENORMAL -> {
                // subnormal floats and the small normals around where 1/d overflows (3.7e-37, 2.4e-37)
                float[] scales = {Float.MIN_VALUE * 3, 1e-42f, 1e-40f, Float.MIN_NORMAL, 1e-38f, 2.3e-37f, 2.5e-37f,
                    3.6e-37f, 3.8e-37f, 1e-36f, 2e-36f};
                float[] pick = new float[rows * cols / 16 + 2];
                for (int i = 0; i < pick.length; i++) {
                    pick[i] = scales[rnd.nextInt(scales.length)];
                }
                fill(x, i -> (float) (rnd.nextGaussian() * pick[i / 16]));
                for (int i = 0; i < x.length; i += 7) {
                    x[i] = (rnd.nextBoolean() ? 1 : -1) * Float.MIN_VALUE * rnd.nextInt(5);
                }
            }
            case TINY -> fill(x, i -> (float) (rnd.nextGaussian() * 1e-30));
            case HUGE -> fill(x, i -> (float) (rnd.nextGaussian() * 1e4));
            case HALVES -> halves(x, layout, rows, cols, rnd);
        }
        return x;
    }

    /**
     * Groups whose scale is exactly 1 (fp32 and fp16) and whose other values are multiples of 0.5: every x * id
     * or x / s is exact, so half-way cases are hit head on.
     */
    private static void halves(float[] x, QuantLayout layout, int rows, int cols, Random rnd) {
        int size = layout.groupSize();
        int bits = layout.bits();
        // [lo, hi]: the value range that makes d == 1
        float lo;
        float hi;
        switch (layout.scheme()) {
            case Q8_0 -> {
                lo = -127;
                hi = 127;
            }
            case Q4_0 -> {
                lo = -8;
                hi = 8;
            }
            default -> {
                if (layout.asymmetric()) {
                    lo = -((1 << (bits - 1)) - 1);
                    hi = 1 << (bits - 1);
                } else {
                    lo = -((1 << (bits - 1)) - 1);
                    hi = -lo;
                }
            }
        }
        for (int r = 0; r < rows; r++) {
            for (int c0 = 0; c0 < cols; c0 += size) {
                int n = Math.min(size, cols - c0);
                for (int j = 0; j < n; j++) {
                    int k = (int) (2 * lo) + rnd.nextInt((int) (2 * (hi - lo)) + 1);
                    float v = k / 2f;
                    switch (rnd.nextInt(8)) { // the floats next to the ties too
                        case 0 -> v = Math.max(lo, Math.nextDown(v));
                        case 1 -> v = Math.min(hi, Math.nextUp(v));
                        default -> { }
                    }
                    x[r * cols + c0 + j] = v;
                }
                // pin the extremes so that d == 1 (q4_0: the first of the largest magnitude is -8 or 8)
                int a = rnd.nextInt(n);
                x[r * cols + c0 + a] = layout.scheme() == Scheme.Q4_0 ? (rnd.nextBoolean() ? -8 : 8) : hi;
                for (int j = 0; j < a; j++) {
                    if (layout.scheme() == Scheme.Q4_0 && Math.abs(x[r * cols + c0 + j]) >= 8) {
                        x[r * cols + c0 + j] = 7.5f;
                    }
                }
                if (layout.asymmetric() && n > 1) {
                    x[r * cols + c0 + (a + 1) % n] = lo;
                }
            }
        }
    }

    private interface IndexToFloat {
        float at(int i);
    }

    private static void fill(float[] x, IndexToFloat f) {
        for (int i = 0; i < x.length; i++) {
            x[i] = f.at(i);
        }
    }

    /** All paths that can run here (the vector ones only when the Vector API is resolved). */
    static List<Path> paths() {
        List<Path> out = new ArrayList<>();
        for (Path p : Path.values()) {
            if (!p.vector() || ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent()) {
                out.add(p);
            }
        }
        return out;
    }
}
