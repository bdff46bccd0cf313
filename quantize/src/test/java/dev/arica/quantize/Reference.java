package dev.arica.quantize;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;

/**
 * Plain reference implementations of every scheme, on arrays, written from the scheme descriptions (ggml's
 * reference quantizers, ONNX Runtime MatMulNBits packing) and sharing no code with the production kernels.
 * Each group is copied into a zero-padded float[] and quantized with explicit loops.
 */
final class Reference {
    private Reference() {}

    /** C's roundf: half away from zero. Math.round is floor(v + 0.5), exact, so it is right for v >= 0. */
    static int roundAway(float v) {
        return v < 0 ? -Math.round(-v) : Math.round(v);
    }

    static short fp16(float v) {
        return Float.floatToFloat16(v);
    }

    static float fromFp16(short h) {
        return Float.float16ToFloat(h);
    }

    static float[] group(float[] x, int row, int cols, int g, int size) {
        float[] v = new float[size];
        for (int j = 0; j < size; j++) {
            int c = g * size + j;
            v[j] = c < cols ? x[row * cols + c] : 0f;
        }
        return v;
    }

    static int groups(int cols, int size) {
        return (cols + size - 1) / size;
    }

    static byte[] quantize(QuantLayout layout, float[] x, int rows, int cols) {
        return switch (layout.scheme()) {
            case Q8_0 -> q8(x, rows, cols);
            case Q4_0 -> q4(x, rows, cols);
            case INT8, INT4 -> intN(layout, x, rows, cols);
        };
    }

    static float[] dequantize(QuantLayout layout, byte[] stored, int rows, int cols) {
        return switch (layout.scheme()) {
            case Q8_0 -> dq8(stored, rows, cols);
            case Q4_0 -> dq4(stored, rows, cols);
            case INT8, INT4 -> dqIntN(layout, stored, rows, cols);
        };
    }

    private static void putShort(byte[] out, int at, short v) {
        out[at] = (byte) v;
        out[at + 1] = (byte) (v >> 8);
    }

    private static short getShort(byte[] in, int at) {
        return (short) ((in[at] & 0xff) | (in[at + 1] & 0xff) << 8);
    }

    // ggml quantize_row_q8_0_ref
    static byte[] q8(float[] x, int rows, int cols) {
        int ng = groups(cols, 32);
        byte[] out = new byte[rows * ng * 34];
        int at = 0;
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < ng; g++) {
                float[] v = group(x, r, cols, g, 32);
                float amax = 0f;
                for (float e : v) {
                    amax = Math.max(amax, Math.abs(e));
                }
                float d = amax / 127;
                float id = d == 0 ? 0 : 1 / d;
                putShort(out, at, fp16(d));
                for (int j = 0; j < 32; j++) {
                    int q = roundAway(v[j] * id);
                    // only reachable when 1/d overflowed (|x| < 3.7e-37): the stored scale is 0 then
                    q = Math.max(-127, Math.min(127, q));
                    out[at + 2 + j] = (byte) q;
                }
                at += 34;
            }
        }
        return out;
    }

    static float[] dq8(byte[] in, int rows, int cols) {
        int ng = groups(cols, 32);
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int block = (r * ng + c / 32) * 34;
                float d = fromFp16(getShort(in, block));
                out[r * cols + c] = in[block + 2 + c % 32] * d;
            }
        }
        return out;
    }

    // ggml quantize_row_q4_0_ref
    static byte[] q4(float[] x, int rows, int cols) {
        int ng = groups(cols, 32);
        byte[] out = new byte[rows * ng * 18];
        int at = 0;
        for (int r = 0; r < rows; r++) {
            for (int g = 0; g < ng; g++) {
                float[] v = group(x, r, cols, g, 32);
                float amax = 0f;
                float max = 0f;
                for (float e : v) {
                    if (amax < Math.abs(e)) {
                        amax = Math.abs(e);
                        max = e;
                    }
                }
                float d = max / -8;
                float id = d == 0 ? 0 : 1 / d;
                putShort(out, at, fp16(d));
                int[] q = new int[32];
                for (int j = 0; j < 32; j++) {
                    q[j] = Math.max(0, Math.min(15, (int) (v[j] * id + 8.5f)));
                }
                for (int j = 0; j < 16; j++) {
                    out[at + 2 + j] = (byte) (q[j] | q[j + 16] << 4);
                }
                at += 18;
            }
        }
        return out;
    }

    static float[] dq4(byte[] in, int rows, int cols) {
        int ng = groups(cols, 32);
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                int block = (r * ng + c / 32) * 18;
                float d = fromFp16(getShort(in, block));
                int j = c % 32;
                int b = in[block + 2 + j % 16] & 0xff;
                int q = j < 16 ? b & 0x0f : b >> 4;
                out[r * cols + c] = (q - 8) * d;
            }
        }
        return out;
    }

    /** Per row: codes, fp16 scales, packed zero points (ONNX Runtime MatMulNBits). */
    static byte[] intN(QuantLayout layout, float[] x, int rows, int cols) {
        int bits = layout.bits();
        int size = layout.groupSize();
        int ng = groups(cols, size);
        int qmax = (1 << (bits - 1)) - 1;
        int qmin = -(1 << (bits - 1));
        int top = (1 << bits) - 1;
        int mid = 1 << (bits - 1);
        int rowBytes = (int) layout.rowBytes(cols);
        byte[] out = new byte[rows * rowBytes];
        for (int r = 0; r < rows; r++) {
            int[] codes = new int[ng * size];
            short[] scales = new short[ng];
            int[] zps = new int[ng];
            for (int g = 0; g < ng; g++) {
                float[] v = group(x, r, cols, g, size);
                float d;
                float lo = 0;
                if (layout.asymmetric()) {
                    float hi = 0;
                    for (float e : v) {
                        lo = Math.min(lo, e);
                        hi = Math.max(hi, e);
                    }
                    d = (hi - lo) / top;
                } else {
                    float amax = 0;
                    for (float e : v) {
                        amax = Math.max(amax, Math.abs(e));
                    }
                    d = amax / qmax;
                }
                scales[g] = fp16(d);
                float s = fromFp16(scales[g]);
                if (s == 0) {
                    zps[g] = mid;
                    for (int j = 0; j < size; j++) {
                        codes[g * size + j] = mid;
                    }
                    continue;
                }
                if (layout.asymmetric()) {
                    zps[g] = Math.max(0, Math.min(top, roundAway(-lo / s)));
                    for (int j = 0; j < size; j++) {
                        codes[g * size + j] = Math.max(0, Math.min(top, roundAway(v[j] / s) + zps[g]));
                    }
                } else {
                    zps[g] = mid;
                    for (int j = 0; j < size; j++) {
                        codes[g * size + j] = Math.max(qmin, Math.min(qmax, roundAway(v[j] / s))) + mid;
                    }
                }
            }
            int at = r * rowBytes;
            if (bits == 8) {
                for (int code : codes) {
                    out[at++] = (byte) code;
                }
            } else {
                for (int i = 0; i < codes.length; i += 2) {
                    out[at++] = (byte) (codes[i] | codes[i + 1] << 4);
                }
            }
            for (short sc : scales) {
                putShort(out, at, sc);
                at += 2;
            }
            if (layout.asymmetric()) {
                if (bits == 8) {
                    for (int zp : zps) {
                        out[at++] = (byte) zp;
                    }
                } else {
                    for (int i = 0; i < ng; i += 2) {
                        out[at++] = (byte) (zps[i] | (i + 1 < ng ? zps[i + 1] << 4 : 0));
                    }
                }
            }
            if (at != (r + 1) * rowBytes) {
                throw new AssertionError("reference row size " + (at - r * rowBytes) + " != " + rowBytes);
            }
        }
        return out;
    }

    static float[] dqIntN(QuantLayout layout, byte[] in, int rows, int cols) {
        int bits = layout.bits();
        int size = layout.groupSize();
        int ng = groups(cols, size);
        int rowBytes = (int) layout.rowBytes(cols);
        int codeBytes = ng * size * bits / 8;
        float[] out = new float[rows * cols];
        for (int r = 0; r < rows; r++) {
            int row = r * rowBytes;
            for (int c = 0; c < cols; c++) {
                int g = c / size;
                int code = bits == 8 ? in[row + c] & 0xff : (in[row + c / 2] >> (c % 2 * 4)) & 0x0f;
                float s = fromFp16(getShort(in, row + codeBytes + 2 * g));
                int zp;
                if (!layout.asymmetric()) {
                    zp = 1 << (bits - 1);
                } else if (bits == 8) {
                    zp = in[row + codeBytes + 2 * ng + g] & 0xff;
                } else {
                    zp = (in[row + codeBytes + 2 * ng + g / 2] >> (g % 2 * 4)) & 0x0f;
                }
                out[r * cols + c] = (code - zp) * s;
            }
        }
        return out;
    }

    /** One row quantized by GPTQ: codes (padding included), and each group's fp16 scale and zero point. */
    record Row(int[] codes, short[] scales, int[] zeros) {}

    /**
     * GPTQ's Algorithm 1 on one row w of k columns, written plainly: given V (upper, V^T V = H^-1), columns in order,
     * the group's round-to-nearest parameters taken when its first column is reached, the error (w_j - q_j) / V_jj
     * fed into the rest of the block at once and into the columns after the block when it is done (blocks of
     * max(128, group)), each update one fused multiply-add.
     */
    static Row gptqRow(QuantLayout layout, float[] w, float[] v, int k) {
        int g = layout.groupSize();
        int groups = groups(k, g);
        int bits = layout.bits();
        int top = (1 << bits) - 1;
        int mid = 1 << (bits - 1);
        int block = Math.max(128, g);
        int[] codes = new int[groups * g];
        short[] scales = new short[groups];
        int[] zeros = new int[groups];
        float[] err = new float[block];
        float s = 0f;
        int zp = 0;
        for (int b0 = 0; b0 < k; b0 += block) {
            int b1 = Math.min(k, b0 + block);
            for (int j = b0; j < b1; j++) {
                if (j % g == 0) {
                    int q = j / g;
                    int n = Math.min(g, k - j);
                    float d;
                    if (layout.scheme() == Scheme.Q4_0) {
                        float m = 0f;
                        for (int i = 0; i < n; i++) {
                            if (Math.abs(w[j + i]) > Math.abs(m)) {
                                m = w[j + i];
                            }
                        }
                        d = m / -8f;
                        zp = 8;
                    } else if (!layout.asymmetric()) {
                        float amax = 0f;
                        for (int i = 0; i < n; i++) {
                            amax = Math.max(amax, Math.abs(w[j + i]));
                        }
                        d = amax / (mid - 1);
                        zp = mid;
                    } else {
                        float lo = 0f;
                        float hi = 0f;
                        for (int i = 0; i < n; i++) {
                            lo = Math.min(lo, w[j + i]);
                            hi = Math.max(hi, w[j + i]);
                        }
                        d = (hi - lo) / top;
                        float sd = fromFp16(fp16(d));
                        zp = sd == 0f ? mid : Math.max(0, Math.min(top, roundAway(-lo / sd)));
                    }
                    scales[q] = fp16(d);
                    zeros[q] = zp;
                    s = fromFp16(scales[q]);
                }
                int c = s == 0f ? zp : Math.max(0, Math.min(top, roundAway(w[j] / s) + zp));
                codes[j] = c;
                float e = (w[j] - (c - zp) * s) / v[j * k + j];
                err[j - b0] = e;
                for (int i = j + 1; i < b1; i++) {
                    w[i] = Math.fma(v[j * k + i], -e, w[i]);
                }
            }
            for (int t = b0; t < b1; t++) {
                for (int i = b1; i < k; i++) {
                    w[i] = Math.fma(v[t * k + i], -err[t - b0], w[i]);
                }
            }
        }
        for (int j = k; j < groups * g; j++) {
            codes[j] = zp; // the padding is 0: round(0 / s) + zp
        }
        return new Row(codes, scales, zeros);
    }
}
