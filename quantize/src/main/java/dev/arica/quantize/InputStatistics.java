package dev.arica.quantize;

import java.util.stream.IntStream;

/**
 * What calibration measured at the input of one linear layer, over n token positions x_t (each a vector of the layer's
 * {@code columns} input features): the importance of each input channel, mean over t of x_tj^2 (what {@link Method#SEARCH}
 * weights its error by), and, when collected, the Hessian of GPTQ's layer-wise objective H = 2/n sum_t x_t x_t^T
 * (float32, [columns, columns] row-major). Weights that share an input (q, k and v; gate and up) share one instance,
 * so GPTQ's factor of H is computed once for them; H itself is dropped once the factor is made.
 */
public final class InputStatistics {
    private final int columns;
    private final long samples;
    private final float[] importance;
    private float[] hessian;
    private float[] factor;

    /**
     * @param importance mean x^2 per input channel, {@code columns} values
     * @param hessian H = 2/n X^T X, {@code columns^2} values, or null when only the importance was collected
     */
    public InputStatistics(int columns, long samples, float[] importance, float[] hessian) {
        if (importance.length != columns || hessian != null && hessian.length != (long) columns * columns) {
            throw new IllegalArgumentException("statistics of " + columns + " columns with " + importance.length
                    + " importances and " + (hessian == null ? 0 : hessian.length) + " Hessian entries");
        }
        this.columns = columns;
        this.samples = samples;
        this.importance = importance;
        this.hessian = hessian;
    }

    public int columns() {
        return columns;
    }

    /** Token positions measured. */
    public long samples() {
        return samples;
    }

    /** Mean x^2 of each input channel (not a copy: read only). */
    public float[] importance() {
        return importance;
    }

    public boolean hasHessian() {
        return hessian != null || factor != null;
    }

    /**
     * GPTQ's upper Cholesky factor of the inverse of the dampened Hessian ({@link Gptq#factor}), made on first use and
     * shared by the weights of this input.
     */
    synchronized float[] gptqFactor() {
        if (factor == null) {
            if (hessian == null) {
                throw new IllegalStateException("no Hessian was collected for this input");
            }
            factor = Gptq.factor(hessian, columns);
            hessian = null;
        }
        return factor;
    }

    /**
     * Sums x^2 per channel and, when asked, X^T X over rows of activations given a batch at a time; {@link #finish}
     * makes the statistics. Only the upper triangle of X^T X is accumulated (tiles of rows in parallel), mirrored at the end.
     */
    public static final class Accumulator {
        /** Rows of H updated together while a batch of activations streams past: they stay in the core's cache. */
        private static final int TILE = 16;
        private final int columns;
        private final double[] squares;
        private final float[] upper;
        private long samples;

        public Accumulator(int columns, Method method) {
            this.columns = columns;
            this.squares = new double[columns];
            this.upper = method == Method.GPTQ ? new float[Math.multiplyExact(columns, columns)] : null;
        }

        /** Adds {@code rows} activation vectors, {@code x[r * columns + j]}. */
        public void add(float[] x, int rows) {
            int k = columns;
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < k; j++) {
                    double v = x[r * k + j];
                    squares[j] += v * v;
                }
            }
            samples += rows;
            if (upper == null) {
                return;
            }
            IntStream.range(0, (k + TILE - 1) / TILE).parallel().forEach(tile -> {
                int i1 = Math.min(k, (tile + 1) * TILE);
                for (int r = 0; r < rows; r++) {
                    int base = r * k;
                    for (int i = tile * TILE; i < i1; i++) {
                        float xi = x[base + i];
                        if (xi != 0f) {
                            Kernels.axpy(upper, i * k + i, xi, x, base + i, k - i);
                        }
                    }
                }
            });
        }

        public long samples() {
            return samples;
        }

        /** The statistics: importance sum / n, H = 2/n X^T X mirrored from its upper triangle. */
        public InputStatistics finish() {
            if (samples == 0) {
                throw new IllegalStateException("no activations were added");
            }
            int k = columns;
            float[] importance = new float[k];
            for (int j = 0; j < k; j++) {
                importance[j] = (float) (squares[j] / samples);
            }
            if (upper != null) {
                float scale = (float) (2.0 / samples);
                for (int i = 0; i < k; i++) {
                    for (int j = i; j < k; j++) {
                        float h = upper[i * k + j] * scale;
                        upper[i * k + j] = h;
                        upper[j * k + i] = h;
                    }
                }
            }
            return new InputStatistics(k, samples, importance, upper);
        }
    }
}
