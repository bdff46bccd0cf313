package dev.arica.quantize;

import static dev.arica.quantize.Kernels.F32;

import dev.arica.formats.quant.IntRow;
import java.lang.foreign.MemorySegment;
import java.util.stream.IntStream;

/**
 * GPTQ (Frantar, Ashkboos, Hoefler, Alistarh 2022, Algorithm 1) on the rows of one weight [rows, cols]: the columns
 * are quantized in order, each one's rounding error divided by the diagonal of the upper Cholesky factor V of H^-1
 * and fed back into the columns not yet quantized along V's row; within a block of {@link #block} columns the
 * feedback is applied at once, to the columns after the block in one pass when the block is done (lazy batch
 * updates). A group's scale and zero point are chosen when its first column is reached, from the weights as the
 * feedback so far has left them (by round to nearest, or by {@link GroupFit#search} weighted by the channels'
 * importance). Columns are processed in their stored order (no act-order), so groups stay contiguous and the
 * output is the scheme's ordinary rows.
 *
 * <p>Rows are independent given V: they are quantized a tile of {@value #TILE} at a time so that each row segment
 * of V read from memory serves the whole tile; every update is a fused multiply-add through {@link Kernels#axpy},
 * so the vector and the scalar kernels give the same bits.
 */
final class Gptq {
    /** Dampening added to H's diagonal, as a fraction of its mean (GPTQ's percdamp default). */
    static final double DAMP = 0.01;
    /** Rows quantized together. */
    static final int TILE = 16;
    /** Rows of a panel of the Cholesky factorization and of the triangular inversion. */
    static final int PANEL = 64;
    /** Rows of the triangular inversion's panel swept together by one thread. */
    static final int SWEEP = 16;

    private Gptq() {}

    /** GPTQ's lazy-batch width for groups of {@code group}: 128 columns, or the group when larger (whole groups per block). */
    static int block(int group) {
        return Math.max(128, group);
    }

    /**
     * V, the upper Cholesky factor of (H + damp I)^-1 (H^-1 = V^T V), computed in place in {@code h} ([k, k]
     * row-major, symmetric; destroyed) and returned: its upper triangle holds V. Channels never activated (H_jj = 0)
     * get H_jj = 1 first, as GPTQ does. With J the order reversal, J H J = U^T U (U upper), so H = W W^T with
     * W = J U^T J upper and V = W^-1 = J U^-T J: one Cholesky and one triangular inversion, no full inverse.
     */
    static float[] factor(float[] h, int k) {
        double sum = 0;
        for (int j = 0; j < k; j++) {
            sum += h[j * k + j];
        }
        float damp = (float) (DAMP * (sum > 0 ? sum / k : 1));
        for (int j = 0; j < k; j++) {
            if (h[j * k + j] == 0f) {
                h[j * k + j] = 1f;
            }
            h[j * k + j] += damp;
        }
        reverse(h);
        choleskyUpper(h, k);
        invertUpper(h, k);
        reverse(h);
        transpose(h, k);
        return h;
    }

    /** A = U^T U in place (upper triangle), right-looking by panels of {@value #PANEL} rows; rows below a panel in parallel. */
    static void choleskyUpper(float[] a, int k) {
        for (int p0 = 0; p0 < k; p0 += PANEL) {
            int p1 = Math.min(k, p0 + PANEL);
            for (int t = p0; t < p1; t++) {
                float d = a[t * k + t];
                if (!(d > 0f)) {
                    throw new ArithmeticException("the dampened Hessian is not positive definite (pivot " + d + " at "
                            + "column " + (k - 1 - t) + ")");
                }
                d = (float) Math.sqrt(d);
                a[t * k + t] = d;
                float inv = 1f / d;
                for (int j = t + 1; j < k; j++) {
                    a[t * k + j] *= inv;
                }
                for (int i = t + 1; i < p1; i++) {
                    Kernels.axpy(a, i * k + i, -a[t * k + i], a, t * k + i, k - i);
                }
            }
            int from = p0;
            int to = p1;
            IntStream.range(p1, k).parallel().forEach(i -> {
                for (int t = from; t < to; t++) {
                    float c = a[t * k + i];
                    if (c != 0f) {
                        Kernels.axpy(a, i * k + i, -c, a, t * k + i, k - i);
                    }
                }
            });
        }
    }

    /**
     * Z = U^-1 in place for upper U, rows from the bottom: Z_i = (e_i - sum over m > i of U_im Z_m) / U_ii. A panel of
     * rows first takes the rows below it (in sweeps of {@value #SWEEP} rows in parallel), then its own from the bottom.
     */
    static void invertUpper(float[] a, int k) {
        float[] acc = new float[PANEL * k];
        for (int i1 = k; i1 > 0; i1 -= PANEL) {
            int i0 = Math.max(0, i1 - PANEL);
            int top = i1;
            java.util.Arrays.fill(acc, 0f);
            IntStream.range(0, (i1 - i0 + SWEEP - 1) / SWEEP).parallel().forEach(s -> {
                int r0 = i0 + s * SWEEP;
                int r1 = Math.min(top, r0 + SWEEP);
                for (int m = top; m < k; m++) {
                    for (int i = r0; i < r1; i++) {
                        float c = a[i * k + m];
                        if (c != 0f) {
                            Kernels.axpy(acc, (i - i0) * k + m, -c, a, m * k + m, k - m);
                        }
                    }
                }
            });
            for (int i = i1 - 1; i >= i0; i--) {
                int r = (i - i0) * k;
                for (int m = i + 1; m < i1; m++) {
                    float c = a[i * k + m];
                    if (c != 0f) {
                        Kernels.axpy(acc, r + m, -c, a, m * k + m, k - m);
                    }
                }
                acc[r + i] += 1f;
                float inv = 1f / a[i * k + i];
                for (int j = i; j < k; j++) {
                    a[i * k + j] = acc[r + j] * inv;
                }
            }
        }
    }

    /** The flat array in reverse order: element [a][b] of a square matrix moves to [k-1-a][k-1-b]. */
    private static void reverse(float[] a) {
        for (int i = 0, j = a.length - 1; i < j; i++, j--) {
            float t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static void transpose(float[] a, int k) {
        for (int i = 0; i < k; i++) {
            for (int j = i + 1; j < k; j++) {
                float t = a[i * k + j];
                a[i * k + j] = a[j * k + i];
                a[j * k + i] = t;
            }
        }
    }

    /**
     * Quantizes rows {@code [fromRow, toRow)} of the float32 tensor {@code src} ([rows, cols]) into {@code dst}
     * (rows at {@code r * rowBytes}), with V = {@code v} ([cols, cols]); {@code importance} weights the group search
     * when {@code search} is set.
     */
    static void quantizeRows(GroupFit fit, float[] v, float[] importance, boolean search, MemorySegment src,
            MemorySegment dst, long cols, long fromRow, long toRow) {
        int k = Math.toIntExact(cols);
        int g = fit.group;
        int groups = (k + g - 1) / g;
        int kp = groups * g;
        int b = block(g);
        float[] w = new float[TILE * k];
        float[] err = new float[TILE * b];
        int[] codes = new int[TILE * kp];
        int[] params = new int[TILE * groups];
        IntRow geometry = fit.geometry(cols);
        long rowBytes = fit.rowBytes(cols);
        for (long r0 = fromRow; r0 < toRow; r0 += TILE) {
            int n = (int) Math.min(TILE, toRow - r0);
            load(src, r0, n, k, w);
            for (int j = 0; j < k; j++) {
                if (importance[j] == 0f) { // a channel never activated: GPTQ zeroes its weights
                    for (int r = 0; r < n; r++) {
                        w[r * k + j] = 0f;
                    }
                }
            }
            columns(fit, v, importance, search, w, n, k, err, codes, params, r0, cols);
            for (int r = 0; r < n; r++) {
                long row = (r0 + r) * rowBytes;
                for (int q = 0; q < groups; q++) {
                    fit.put(dst, row, geometry, q, params[r * groups + q], codes, r * kp + q * g);
                }
            }
        }
    }

    /** Rows {@code [r0, r0 + n)} of {@code src} into {@code w}, refusing NaN and infinities. */
    static void load(MemorySegment src, long r0, int n, int k, float[] w) {
        MemorySegment rows = src.asSlice(r0 * k * 4, (long) n * k * 4);
        long bad = Quantizer.firstNonFinite(rows, (long) n * k);
        if (bad >= 0) {
            throw QuantizationException.nonFinite(r0 + bad / k, bad % k, k, rows.getAtIndex(F32, bad));
        }
        MemorySegment.copy(rows, F32, 0, w, 0, n * k);
    }

    /**
     * The column loop of Algorithm 1 on the {@code n} rows of {@code w} ([n, k], updated in place): codes
     * ({@code [n, kp]}, padding included) and each group's parameters ({@code [n, groups]}).
     */
    static void columns(GroupFit fit, float[] v, float[] importance, boolean search, float[] w, int n, int k,
            float[] err, int[] codes, int[] params, long firstRow, long cols) {
        int g = fit.group;
        int groups = (k + g - 1) / g;
        int kp = groups * g;
        int b = block(g);
        for (int b0 = 0; b0 < k; b0 += b) {
            int b1 = Math.min(k, b0 + b);
            for (int j = b0; j < b1; j++) {
                float d = v[j * k + j];
                int q = j / g;
                for (int r = 0; r < n; r++) {
                    int at = r * k;
                    if (j % g == 0) {
                        int m = Math.min(g, k - j);
                        params[r * groups + q] = search ? fit.search(w, at + j, m, importance, j, firstRow + r, j, cols)
                                : fit.rtn(w, at + j, m, firstRow + r, j, cols);
                    }
                    int p = params[r * groups + q];
                    float x = w[at + j];
                    int c = fit.code(x, p);
                    codes[r * kp + j] = c;
                    float e = (x - GroupFit.value(c, p)) / d;
                    err[r * b + j - b0] = e;
                    Kernels.axpy(w, at + j + 1, -e, v, j * k + j + 1, b1 - j - 1);
                }
            }
            if (b1 < k) {
                for (int t = b0; t < b1; t++) {
                    for (int r = 0; r < n; r++) {
                        Kernels.axpy(w, r * k + b1, -err[r * b + t - b0], v, t * k + b1, k - b1);
                    }
                }
            }
        }
        for (int r = 0; r < n; r++) {
            for (int j = k; j < kp; j++) {
                codes[r * kp + j] = fit.code(0f, params[r * groups + groups - 1]);
            }
        }
    }
}
