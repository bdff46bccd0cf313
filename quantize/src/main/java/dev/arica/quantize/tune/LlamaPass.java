package dev.arica.quantize.tune;

import dev.arica.formats.model.DecoderConfig;
import dev.arica.quantize.Kernels;
import dev.arica.quantize.tune.LlamaWeights.Projection;

/**
 * One sequence through a plain Llama decoder ({@link LlamaWeights}) in float32: the forward pass keeping what the
 * backward pass needs, the distillation loss KL(P_teacher || P_student) at every position, and the gradients of that
 * loss with respect to the matrices asked for. Written from the architecture (Hugging Face's LlamaForCausalLM: RMSNorm
 * x / sqrt(mean(x^2) + eps) * w, rotate-half rotary embeddings, softmax(q k^T * scale) over the causal prefix with
 * key/value heads shared by groups of query heads, down(silu(gate(x)) * up(x)), residual adds); the backward pass is
 * the chain rule through each of those, checked against finite differences in the tests. Products are row updates
 * (y_row += a * w_row) by {@link Kernels#axpy}, whose vector and scalar kernels give the same bits.
 */
final class LlamaPass {
    // A layer's matrices, as offsets from its first in LlamaWeights' index order.
    private static final int QUERY = Projection.QUERY.ordinal();
    private static final int KEY = Projection.KEY.ordinal();
    private static final int VALUE = Projection.VALUE.ordinal();
    private static final int OUTPUT = Projection.OUTPUT.ordinal();
    private static final int GATE = Projection.GATE.ordinal();
    private static final int UP = Projection.UP.ordinal();
    private static final int DOWN = Projection.DOWN.ordinal();

    private final LlamaWeights w;
    private final DecoderConfig c;
    private final int t;
    private final int[] ids;
    private final int d;
    private final int qw;
    private final int kvw;
    private final int ff;
    private final int hd;
    private final int group;
    private final float[] cos;
    private final float[] sin;
    /** The matrices as [in, out], for the forward products. */
    private final float[][] transposed;

    // What the forward pass keeps, per layer.
    private final float[][] x0;
    private final float[][] r1;
    private final float[][] h1;
    private final float[][] q;
    private final float[][] k;
    private final float[][] v;
    private final float[][] p;
    private final float[][] o;
    private final float[][] x1;
    private final float[][] r2;
    private final float[][] h2;
    private final float[][] gate;
    private final float[][] up;
    private final float[][] act;
    private float[] xf;
    private float[] rf;
    private float[] hf;

    LlamaPass(LlamaWeights w, int[] ids) {
        this.w = w;
        this.c = w.config;
        this.ids = ids;
        this.t = ids.length;
        this.d = c.hidden();
        this.hd = c.headDim();
        this.qw = c.heads() * hd;
        this.kvw = c.kvHeads() * hd;
        this.ff = c.intermediate();
        this.group = c.heads() / c.kvHeads();
        this.transposed = w.transposed();
        int half = hd / 2;
        cos = new float[t * half];
        sin = new float[t * half];
        for (int pos = 0; pos < t; pos++) {
            for (int i = 0; i < half; i++) {
                double angle = pos * Math.pow(c.ropeTheta(), -2.0 * i / hd);
                cos[pos * half + i] = (float) Math.cos(angle);
                sin[pos * half + i] = (float) Math.sin(angle);
            }
        }
        int layers = c.layers();
        x0 = new float[layers][];
        r1 = new float[layers][];
        h1 = new float[layers][];
        q = new float[layers][];
        k = new float[layers][];
        v = new float[layers][];
        p = new float[layers][];
        o = new float[layers][];
        x1 = new float[layers][];
        r2 = new float[layers][];
        h2 = new float[layers][];
        gate = new float[layers][];
        up = new float[layers][];
        act = new float[layers][];
    }

    /** The forward pass; returns the logits [t, vocab]. */
    float[] forward() {
        float[] x = new float[t * d];
        for (int i = 0; i < t; i++) {
            System.arraycopy(w.embedding, ids[i] * d, x, i * d, d);
        }
        float scale = (float) c.attentionScale();
        for (int l = 0; l < c.layers(); l++) {
            int m = l * LlamaWeights.PER_LAYER;
            x0[l] = x;
            r1[l] = new float[t];
            h1[l] = rmsNorm(x, w.attentionNorms[l], r1[l]);
            q[l] = product(h1[l], d, transposed[m + QUERY], qw);
            k[l] = product(h1[l], d, transposed[m + KEY], kvw);
            v[l] = product(h1[l], d, transposed[m + VALUE], kvw);
            rotate(q[l], c.heads(), 1);
            rotate(k[l], c.kvHeads(), 1);
            p[l] = new float[c.heads() * t * t];
            o[l] = attend(q[l], k[l], v[l], p[l], scale);
            x = add(x, product(o[l], qw, transposed[m + OUTPUT], d));
            x1[l] = x;
            r2[l] = new float[t];
            h2[l] = rmsNorm(x, w.mlpNorms[l], r2[l]);
            gate[l] = product(h2[l], d, transposed[m + GATE], ff);
            up[l] = product(h2[l], d, transposed[m + UP], ff);
            float[] a = new float[t * ff];
            for (int i = 0; i < a.length; i++) {
                a[i] = silu(gate[l][i]) * up[l][i];
            }
            act[l] = a;
            x = add(x, product(a, ff, transposed[m + DOWN], d));
        }
        xf = x;
        rf = new float[t];
        hf = rmsNorm(x, w.finalNorm, rf);
        return product(hf, d, transposed[transposed.length - 1], c.vocab());
    }

    /**
     * The gradient of the loss whose gradient at the logits is {@code dLogits} [t, vocab], with respect to the matrices
     * whose {@code grads} entry is non-null (accumulated into it, [out, in]); {@link #forward} first.
     */
    void backward(float[] dLogits, float[][] grads) {
        int head = grads.length - 1;
        int vocab = c.vocab();
        accumulate(grads[head], dLogits, vocab, hf, d);
        float[] dh = product(dLogits, vocab, w.matrices[head], d);
        float[] dx = rmsNormBack(xf, w.finalNorm, rf, dh);
        float scale = (float) c.attentionScale();
        for (int l = c.layers() - 1; l >= 0; l--) {
            int m = l * LlamaWeights.PER_LAYER;
            // MLP: x2 = x1 + down(silu(gate) * up)
            accumulate(grads[m + DOWN], dx, d, act[l], ff);
            float[] da = product(dx, d, w.matrices[m + DOWN], ff);
            float[] dg = new float[t * ff];
            float[] du = new float[t * ff];
            for (int i = 0; i < da.length; i++) {
                float g = gate[l][i];
                float s = sigmoid(g);
                du[i] = da[i] * g * s;
                dg[i] = da[i] * up[l][i] * s * (1 + g * (1 - s));
            }
            accumulate(grads[m + GATE], dg, ff, h2[l], d);
            accumulate(grads[m + UP], du, ff, h2[l], d);
            float[] dh2 = product(dg, ff, w.matrices[m + GATE], d);
            addInto(dh2, product(du, ff, w.matrices[m + UP], d));
            dx = add(dx, rmsNormBack(x1[l], w.mlpNorms[l], r2[l], dh2));
            // Attention: x1 = x0 + o_proj(attend(rope(q), rope(k), v))
            accumulate(grads[m + OUTPUT], dx, d, o[l], qw);
            float[] dO = product(dx, d, w.matrices[m + OUTPUT], qw);
            float[] dq = new float[t * qw];
            float[] dk = new float[t * kvw];
            float[] dv = new float[t * kvw];
            attendBack(q[l], k[l], v[l], p[l], dO, dq, dk, dv, scale);
            rotate(dq, c.heads(), -1);
            rotate(dk, c.kvHeads(), -1);
            accumulate(grads[m + QUERY], dq, qw, h1[l], d);
            accumulate(grads[m + KEY], dk, kvw, h1[l], d);
            accumulate(grads[m + VALUE], dv, kvw, h1[l], d);
            float[] dh1 = product(dq, qw, w.matrices[m + QUERY], d);
            addInto(dh1, product(dk, kvw, w.matrices[m + KEY], d));
            addInto(dh1, product(dv, kvw, w.matrices[m + VALUE], d));
            dx = add(dx, rmsNormBack(x0[l], w.attentionNorms[l], r1[l], dh1));
        }
    }

    /**
     * KL(P_teacher || P_student) summed over the positions, with its gradient at the student's logits (softmax(student)
     * - P_teacher) scaled by {@code weight} into {@code dLogits}; {@code teacherLogProbs} [t, vocab].
     */
    static double distillation(float[] studentLogits, float[] teacherLogProbs, int vocab, float weight, float[] dLogits) {
        int t = studentLogits.length / vocab;
        double loss = 0;
        for (int i = 0; i < t; i++) {
            int at = i * vocab;
            double logZ = logSumExp(studentLogits, at, vocab);
            for (int j = 0; j < vocab; j++) {
                double lp = teacherLogProbs[at + j];
                double lq = studentLogits[at + j] - logZ;
                double pt = Math.exp(lp);
                if (pt > 0) {
                    loss += pt * (lp - lq);
                }
                if (dLogits != null) {
                    dLogits[at + j] = (float) ((Math.exp(lq) - pt) * weight);
                }
            }
        }
        return loss;
    }

    /** log softmax of each row of {@code logits} [rows, vocab], in place. */
    static float[] logSoftmax(float[] logits, int vocab) {
        for (int at = 0; at < logits.length; at += vocab) {
            float logZ = (float) logSumExp(logits, at, vocab);
            for (int j = 0; j < vocab; j++) {
                logits[at + j] -= logZ;
            }
        }
        return logits;
    }

    /** log sum exp of {@code x[at, at + n)}, computed from the largest element. */
    private static double logSumExp(float[] x, int at, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, x[at + j]);
        }
        double sum = 0;
        for (int j = 0; j < n; j++) {
            sum += Math.exp(x[at + j] - max);
        }
        return max + Math.log(sum);
    }

    /**
     * x [t, k] times the [k, n] matrix {@code m}: a forward product with m = W^T, or with m = W ([out, in]) and x the
     * gradient at the output, the gradient at the input.
     */
    private float[] product(float[] x, int kIn, float[] m, int n) {
        float[] y = new float[t * n];
        for (int i = 0; i < t; i++) {
            int yo = i * n;
            for (int j = 0; j < kIn; j++) {
                float a = x[i * kIn + j];
                if (a != 0) {
                    Kernels.axpy(y, yo, a, m, j * n, n);
                }
            }
        }
        return y;
    }

    /** grad [n, k] += dY^T X for dY [t, n], X [t, k]; nothing when grad is null. */
    private void accumulate(float[] grad, float[] dy, int n, float[] x, int kIn) {
        if (grad == null) {
            return;
        }
        for (int i = 0; i < t; i++) {
            int xo = i * kIn;
            for (int j = 0; j < n; j++) {
                float g = dy[i * n + j];
                if (g != 0) {
                    Kernels.axpy(grad, j * kIn, g, x, xo, kIn);
                }
            }
        }
    }

    private float[] rmsNorm(float[] x, float[] weight, float[] inverse) {
        float[] y = new float[x.length];
        for (int i = 0; i < t; i++) {
            double ss = 0;
            for (int j = 0; j < d; j++) {
                float e = x[i * d + j];
                ss += e * e;
            }
            float r = (float) (1 / Math.sqrt(ss / d + c.normEps()));
            inverse[i] = r;
            for (int j = 0; j < d; j++) {
                y[i * d + j] = x[i * d + j] * r * weight[j];
            }
        }
        return y;
    }

    /** y = x r w with r = (mean x^2 + eps)^-1/2: dx = r (w dy) - x r^3 / d * sum(w dy x). */
    private float[] rmsNormBack(float[] x, float[] weight, float[] inverse, float[] dy) {
        float[] dx = new float[x.length];
        for (int i = 0; i < t; i++) {
            float r = inverse[i];
            double dot = 0;
            for (int j = 0; j < d; j++) {
                dot += (double) weight[j] * dy[i * d + j] * x[i * d + j];
            }
            float coef = (float) (dot * r * r * r / d);
            for (int j = 0; j < d; j++) {
                dx[i * d + j] = r * weight[j] * dy[i * d + j] - x[i * d + j] * coef;
            }
        }
        return dx;
    }

    /**
     * Rotate-half rotary embedding of each head of {@code x} [t, heads * hd], in place; {@code sign} -1 applies the
     * inverse rotation (the transpose), which is the backward pass.
     */
    private void rotate(float[] x, int heads, int sign) {
        int half = hd / 2;
        for (int i = 0; i < t; i++) {
            for (int h = 0; h < heads; h++) {
                int at = i * heads * hd + h * hd;
                for (int e = 0; e < half; e++) {
                    float co = cos[i * half + e];
                    float si = sign * sin[i * half + e];
                    float a = x[at + e];
                    float b = x[at + e + half];
                    x[at + e] = a * co - b * si;
                    x[at + e + half] = b * co + a * si;
                }
            }
        }
    }

    /** Causal attention; keeps the probabilities in {@code probs} [heads, t, t]. */
    private float[] attend(float[] qs, float[] ks, float[] vs, float[] probs, float scale) {
        float[] out = new float[t * qw];
        for (int h = 0; h < c.heads(); h++) {
            int kvh = h / group;
            for (int i = 0; i < t; i++) {
                int row = (h * t + i) * t;
                float max = Float.NEGATIVE_INFINITY;
                for (int s = 0; s <= i; s++) {
                    float dot = 0;
                    for (int e = 0; e < hd; e++) {
                        dot += qs[i * qw + h * hd + e] * ks[s * kvw + kvh * hd + e];
                    }
                    probs[row + s] = dot * scale;
                    max = Math.max(max, probs[row + s]);
                }
                float sum = 0;
                for (int s = 0; s <= i; s++) {
                    float e = (float) Math.exp(probs[row + s] - max);
                    probs[row + s] = e;
                    sum += e;
                }
                for (int s = 0; s <= i; s++) {
                    float pr = probs[row + s] / sum;
                    probs[row + s] = pr;
                    for (int e = 0; e < hd; e++) {
                        out[i * qw + h * hd + e] += pr * vs[s * kvw + kvh * hd + e];
                    }
                }
            }
        }
        return out;
    }

    private void attendBack(float[] qs, float[] ks, float[] vs, float[] probs, float[] dOut, float[] dq, float[] dk,
            float[] dv, float scale) {
        float[] dp = new float[t];
        for (int h = 0; h < c.heads(); h++) {
            int kvh = h / group;
            for (int i = 0; i < t; i++) {
                int row = (h * t + i) * t;
                float weighted = 0;
                for (int s = 0; s <= i; s++) {
                    float dot = 0;
                    float pr = probs[row + s];
                    for (int e = 0; e < hd; e++) {
                        float g = dOut[i * qw + h * hd + e];
                        dot += g * vs[s * kvw + kvh * hd + e];
                        dv[s * kvw + kvh * hd + e] += pr * g;
                    }
                    dp[s] = dot;
                    weighted += pr * dot;
                }
                for (int s = 0; s <= i; s++) {
                    float ds = probs[row + s] * (dp[s] - weighted) * scale;
                    for (int e = 0; e < hd; e++) {
                        dq[i * qw + h * hd + e] += ds * ks[s * kvw + kvh * hd + e];
                        dk[s * kvw + kvh * hd + e] += ds * qs[i * qw + h * hd + e];
                    }
                }
            }
        }
    }

    private static float[] add(float[] a, float[] b) {
        float[] out = a.clone();
        addInto(out, b);
        return out;
    }

    private static void addInto(float[] a, float[] b) {
        for (int i = 0; i < a.length; i++) {
            a[i] += b[i];
        }
    }

    private static float sigmoid(float x) {
        return (float) (1 / (1 + Math.exp(-x)));
    }

    private static float silu(float x) {
        return x * sigmoid(x);
    }
}
