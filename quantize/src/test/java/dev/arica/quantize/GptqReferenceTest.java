package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.RowGeometry;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * GPTQ on a tiny synthetic layer against a plain reference of the algorithm kept here (H^-1 by Gauss-Jordan in double,
 * its Cholesky factor, then Algorithm 1 row by row): the factor agrees, and given the same factor the quantized codes,
 * scales and zero points are the same; the result has a lower layer error ||(W - Q) X|| than round to nearest.
 */
class GptqReferenceTest {
    private static final int K = 200;
    private static final int ROWS = 21;
    private static final int SAMPLES = 400;

    /** Activations with correlated channels (a shared factor) and channel scales from 0.2 to 3, as real inputs have. */
    static float[] activations(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[SAMPLES * K];
        for (int t = 0; t < SAMPLES; t++) {
            double shared = rnd.nextGaussian();
            for (int j = 0; j < K; j++) {
                double scale = 0.2 + 2.8 * ((j * 37) % K) / K;
                x[t * K + j] = (float) (scale * (0.7 * shared + 0.7 * rnd.nextGaussian()));
            }
        }
        return x;
    }

    static float[] weights(long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[ROWS * K];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (0.05 * rnd.nextGaussian());
        }
        return w;
    }

    /** H = 2/n X^T X in double. */
    static double[] hessian(float[] x) {
        double[] h = new double[K * K];
        for (int t = 0; t < SAMPLES; t++) {
            for (int i = 0; i < K; i++) {
                for (int j = 0; j < K; j++) {
                    h[i * K + j] += 2.0 * x[t * K + i] * x[t * K + j] / SAMPLES;
                }
            }
        }
        return h;
    }

    /** The upper V with V^T V = (H + damp I)^-1: Gauss-Jordan inverse, then the Cholesky factor of the inverse. */
    static double[] referenceFactor(double[] hIn) {
        int k = K;
        double[] h = hIn.clone();
        double mean = 0;
        for (int j = 0; j < k; j++) {
            mean += h[j * k + j] / k;
        }
        for (int j = 0; j < k; j++) {
            h[j * k + j] += Gptq.DAMP * mean;
        }
        double[] inv = new double[k * k];
        for (int j = 0; j < k; j++) {
            inv[j * k + j] = 1;
        }
        for (int c = 0; c < k; c++) {
            double p = h[c * k + c];
            for (int j = 0; j < k; j++) {
                h[c * k + j] /= p;
                inv[c * k + j] /= p;
            }
            for (int r = 0; r < k; r++) {
                if (r != c) {
                    double f = h[r * k + c];
                    for (int j = 0; j < k; j++) {
                        h[r * k + j] -= f * h[c * k + j];
                        inv[r * k + j] -= f * inv[c * k + j];
                    }
                }
            }
        }
        // inv = L L^T (Cholesky-Banachiewicz), V = L^T.
        double[] l = new double[k * k];
        for (int i = 0; i < k; i++) {
            for (int j = 0; j <= i; j++) {
                double s = inv[i * k + j];
                for (int m = 0; m < j; m++) {
                    s -= l[i * k + m] * l[j * k + m];
                }
                l[i * k + j] = i == j ? Math.sqrt(s) : s / l[j * k + j];
            }
        }
        double[] v = new double[k * k];
        for (int i = 0; i < k; i++) {
            for (int j = i; j < k; j++) {
                v[i * k + j] = l[j * k + i];
            }
        }
        return v;
    }

    @Test
    void theFactorIsTheCholeskyFactorOfTheInverse() {
        float[] x = activations(1);
        double[] h = hessian(x);
        double[] want = referenceFactor(h);
        float[] hf = new float[K * K];
        for (int i = 0; i < hf.length; i++) {
            hf[i] = (float) h[i];
        }
        float[] got = Gptq.factor(hf, K);
        double scale = Math.abs(want[0]);
        for (int i = 0; i < K; i++) {
            for (int j = i; j < K; j++) {
                assertEquals(want[i * K + j], got[i * K + j], 1e-3 * scale, "V[" + i + "][" + j + "]");
            }
        }
    }

    @Test
    void theAccumulatorGivesTheHessianAndTheImportance() {
        float[] x = activations(2);
        double[] h = hessian(x);
        InputStatistics.Accumulator acc = new InputStatistics.Accumulator(K, Method.GPTQ);
        acc.add(java.util.Arrays.copyOf(x, 50 * K), 50);
        acc.add(java.util.Arrays.copyOfRange(x, 50 * K, SAMPLES * K), SAMPLES - 50);
        InputStatistics s = acc.finish();
        assertEquals(SAMPLES, s.samples());
        for (int j = 0; j < K; j++) {
            assertEquals(h[j * K + j] / 2, s.importance()[j], 1e-5 * h[j * K + j], "importance " + j);
        }
        float[] factor = s.gptqFactor();
        double[] want = referenceFactor(h);
        for (int j = 0; j < K; j++) {
            assertEquals(want[j * K + K - 1], factor[j * K + K - 1], 1e-3 * Math.abs(want[0]), "last column of V, row " + j);
        }
    }

    @Test
    void codesEqualThePlainReference() {
        float[] x = activations(3);
        double[] vd = referenceFactor(hessian(x));
        float[] v = new float[K * K];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) vd[i];
        }
        float[] importance = new float[K];
        java.util.Arrays.fill(importance, 1f);
        for (QuantLayout layout : List.of(new QuantLayout(Scheme.INT4, 16, true), new QuantLayout(Scheme.INT4, 32, false),
                QuantLayout.of(Scheme.Q4_0), new QuantLayout(Scheme.INT8, 16, true))) {
            float[] w = weights(4);
            GroupFit fit = new GroupFit(layout);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment src = Fixtures.segment(arena, w);
                MemorySegment dst = arena.allocate(layout.bytes(ROWS, K));
                Gptq.quantizeRows(fit, v, importance, false, src, dst, K, 0, ROWS);
                RowGeometry geometry = layout.geometry(K);
                int g = layout.groupSize();
                int groups = (K + g - 1) / g;
                int[] codes = new int[g];
                for (int r = 0; r < ROWS; r++) {
                    Reference.Row want = Reference.gptqRow(layout, java.util.Arrays.copyOfRange(w, r * K, (r + 1) * K), v, K);
                    long row = r * layout.rowBytes(K);
                    for (int q = 0; q < groups; q++) {
                        geometry.codes(dst, row, q, codes);
                        String what = layout.describe() + " row " + r + " group " + q;
                        assertArrayEquals(java.util.Arrays.copyOfRange(want.codes(), q * g, (q + 1) * g), codes, what);
                        assertEquals(want.scales()[q], geometry.scale(dst, row, q), what + " scale");
                        assertEquals(want.zeros()[q], geometry.zeroPoint(dst, row, q), what + " zero point");
                    }
                }
            }
        }
    }

    @Test
    void gptqLowersTheLayerErrorBelowRoundToNearest() {
        float[] x = activations(5);
        InputStatistics stats = statistics(x);
        float[] w = weights(6);
        for (QuantLayout layout : List.of(new QuantLayout(Scheme.INT4, 32, true), QuantLayout.of(Scheme.Q4_0))) {
            double rtn = layerError(w, Quantizer.of(layout), x);
            double gptq = layerError(w, new CalibratedQuantizer(layout, Method.GPTQ, stats), x);
            double search = layerError(w, new CalibratedQuantizer(layout, Method.SEARCH, stats), x);
            assertTrue(gptq < 0.8 * rtn, layout.describe() + ": GPTQ " + gptq + ", round to nearest " + rtn);
            assertTrue(search < rtn, layout.describe() + ": search " + search + ", round to nearest " + rtn);
        }
    }

    @Test
    void tunedScaleFactorsMultiplyEachGroupsScaleAndKeepTheCodes() {
        InputStatistics stats = statistics(activations(5));
        float[] w = weights(6);
        for (QuantLayout layout : List.of(new QuantLayout(Scheme.INT4, 32, true), QuantLayout.of(Scheme.Q4_0),
                new QuantLayout(Scheme.INT8, 64, false))) {
            RowGeometry g = layout.geometry(K);
            int groups = (int) g.groups();
            float[] factors = new float[ROWS * groups];
            SplittableRandom rnd = new SplittableRandom(8);
            for (int i = 0; i < factors.length; i++) {
                factors[i] = (float) (0.8 + 0.4 * rnd.nextDouble());
            }
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment src = Fixtures.segment(arena, w);
                MemorySegment plain = arena.allocate(layout.bytes(ROWS, K));
                MemorySegment tuned = arena.allocate(layout.bytes(ROWS, K));
                new CalibratedQuantizer(layout, Method.GPTQ, stats).quantize(src, ROWS, K, plain);
                new CalibratedQuantizer(layout, Method.GPTQ, stats, factors).quantize(src, ROWS, K, tuned);
                long rowBytes = layout.rowBytes(K);
                int[] a = new int[layout.groupSize()];
                int[] b = new int[layout.groupSize()];
                for (int r = 0; r < ROWS; r++) {
                    long row = r * rowBytes;
                    for (int q = 0; q < groups; q++) {
                        float want = Float.float16ToFloat(Float.floatToFloat16(
                                Float.float16ToFloat(g.scale(plain, row, q)) * factors[r * groups + q]));
                        assertEquals(want, Float.float16ToFloat(g.scale(tuned, row, q)), layout.describe() + " row " + r);
                        g.codes(plain, row, q, a);
                        g.codes(tuned, row, q, b);
                        assertArrayEquals(a, b, layout.describe() + " codes of row " + r + " group " + q);
                        assertEquals(g.zeroPoint(plain, row, q), g.zeroPoint(tuned, row, q));
                    }
                }
            }
        }
    }

    /** GPTQ's statistics of {@code x}. */
    private static InputStatistics statistics(float[] x) {
        InputStatistics.Accumulator acc = new InputStatistics.Accumulator(K, Method.GPTQ);
        acc.add(x, SAMPLES);
        return acc.finish();
    }

    /** ||(W - Q) X^T||^2 over the samples. */
    private static double layerError(float[] w, Quantizer quantizer, float[] x) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = Fixtures.segment(arena, w);
            MemorySegment dst = arena.allocate(quantizer.layout().bytes(ROWS, K));
            quantizer.quantize(src, ROWS, K, dst);
            MemorySegment back = arena.allocate(4L * w.length);
            quantizer.dequantize(dst, ROWS, K, back);
            float[] q = Fixtures.floats(back, w.length);
            double e = 0;
            for (int r = 0; r < ROWS; r++) {
                for (int t = 0; t < SAMPLES; t++) {
                    double d = 0;
                    for (int j = 0; j < K; j++) {
                        d += (w[r * K + j] - q[r * K + j]) * (double) x[t * K + j];
                    }
                    e += d * d;
                }
            }
            return e;
        }
    }

    @Test
    void theVectorAxpyEqualsTheScalarTwin() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int n : new int[] {0, 1, 3, 7, 8, 15, 16, 17, 31, 64, 100, 172, 2048}) {
            float[] x = new float[n + 5];
            float[] y = new float[n + 3];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            for (int i = 0; i < y.length; i++) {
                y[i] = (float) rnd.nextGaussian();
            }
            float a = (float) rnd.nextGaussian();
            float[] scalar = y.clone();
            Kernels.scalarAxpy(scalar, 3, a, x, 5, n);
            float[] chosen = y.clone();
            Kernels.axpy(chosen, 3, a, x, 5, n);
            assertArrayEquals(scalar, chosen, "n " + n);
            if (Kernels.VECTOR) {
                float[] vector = y.clone();
                VectorKernels.axpy(vector, 3, a, x, 5, n);
                assertArrayEquals(scalar, vector, "vector kernel, n " + n);
            }
            for (int i = 0; i < n; i++) {
                assertEquals(Math.fma(x[5 + i], a, y[3 + i]), scalar[3 + i]);
            }
        }
    }
}
