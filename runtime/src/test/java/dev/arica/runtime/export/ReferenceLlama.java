package dev.arica.runtime.export;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Tensor;
import dev.arica.testdata.SyntheticLlama;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.function.DoubleUnaryOperator;

/**
 * A plain float64 forward pass of a Hugging Face Llama model, written from the architecture's definition
 * and independent of the exporter: the yardstick for the exported graph on synthetic models.
 */
final class ReferenceLlama {
    private final SyntheticLlama.Spec s;
    private final double eps;
    private final double theta;
    private final double[][] embed;
    private final double[][] head;
    private final double[] finalNorm;
    private final Layer[] layers;

    private record Layer(double[] inNorm, double[][] q, double[][] k, double[][] v, double[][] o, double[] postNorm,
            double[][] gate, double[][] up, double[][] down) {}

    /**
     * @param weights applied to every weight as read, e.g. rounding to float16 to predict an f16 export
     */
    ReferenceLlama(Checkpoint c, SyntheticLlama.Spec s, double eps, double theta, DoubleUnaryOperator weights)
            throws IOException {
        this.s = s;
        this.eps = eps;
        this.theta = theta;
        embed = matrix(c, "model.embed_tokens.weight", s.vocab(), s.hidden(), weights);
        head = s.tied() ? embed : matrix(c, "lm_head.weight", s.vocab(), s.hidden(), weights);
        finalNorm = matrix(c, "model.norm.weight", 1, s.hidden(), weights)[0];
        layers = new Layer[s.layers()];
        int q = s.heads() * s.headDim(), kv = s.kvHeads() * s.headDim(), h = s.hidden(), ff = s.intermediate();
        for (int i = 0; i < s.layers(); i++) {
            String p = "model.layers." + i + ".";
            layers[i] = new Layer(matrix(c, p + "input_layernorm.weight", 1, h, weights)[0],
                    matrix(c, p + "self_attn.q_proj.weight", q, h, weights),
                    matrix(c, p + "self_attn.k_proj.weight", kv, h, weights),
                    matrix(c, p + "self_attn.v_proj.weight", kv, h, weights),
                    matrix(c, p + "self_attn.o_proj.weight", h, q, weights),
                    matrix(c, p + "post_attention_layernorm.weight", 1, h, weights)[0],
                    matrix(c, p + "mlp.gate_proj.weight", ff, h, weights),
                    matrix(c, p + "mlp.up_proj.weight", ff, h, weights),
                    matrix(c, p + "mlp.down_proj.weight", h, ff, weights));
        }
    }

    private static double[][] matrix(Checkpoint c, String name, int rows, int cols, DoubleUnaryOperator f)
            throws IOException {
        Tensor t = c.tensor(name);
        DType dt = t.info().dtype();
        double[][] m = new double[rows][cols];
        long e = 0;
        for (MemorySegment part : t.parts()) {
            long n = part.byteSize() / dt.byteSize();
            for (long j = 0; j < n; j++, e++) {
                double v = switch (dt) {
                    case F32 -> part.get(FloatCast.F32_LE, j * 4);
                    case F16 -> Float.float16ToFloat(part.get(FloatCast.I16_LE, j * 2));
                    case BF16 -> FloatCast.bf16ToF32(part.get(FloatCast.I16_LE, j * 2));
                    default -> throw new IllegalArgumentException(name + " is " + dt);
                };
                m[(int) (e / cols)][(int) (e % cols)] = f.applyAsDouble(v);
            }
        }
        if (e != (long) rows * cols) {
            throw new IllegalArgumentException(name + " has " + e + " elements, expected " + rows + "x" + cols);
        }
        return m;
    }

    /** Logits [seq][vocab] for one sequence whose tokens sit at rotary {@code positions}, all attending causally. */
    double[][] logits(long[] ids, long[] positions) {
        return logits(ids, positions, 0);
    }

    /** The same with a sliding window (Mistral): token t attends to tokens t - window < u <= t; 0 for none. */
    double[][] logits(long[] ids, long[] positions, int window) {
        int n = ids.length, d = s.headDim(), group = s.heads() / s.kvHeads();
        double[][] x = new double[n][];
        for (int t = 0; t < n; t++) {
            x[t] = embed[(int) ids[t]].clone();
        }
        for (Layer l : layers) {
            double[][] q = new double[n][], k = new double[n][], v = new double[n][];
            for (int t = 0; t < n; t++) {
                double[] h = rmsNorm(x[t], l.inNorm());
                q[t] = rope(mul(l.q(), h), positions[t], s.heads());
                k[t] = rope(mul(l.k(), h), positions[t], s.kvHeads());
                v[t] = mul(l.v(), h);
            }
            for (int t = 0; t < n; t++) {
                double[] ctx = new double[s.heads() * d];
                for (int hq = 0; hq < s.heads(); hq++) {
                    int hk = hq / group;
                    double[] w = new double[t + 1];
                    double max = Double.NEGATIVE_INFINITY;
                    int first = window > 0 ? Math.max(0, t - window + 1) : 0;
                    for (int u = first; u <= t; u++) {
                        double dot = 0;
                        for (int j = 0; j < d; j++) {
                            dot += q[t][hq * d + j] * k[u][hk * d + j];
                        }
                        w[u] = dot / Math.sqrt(d);
                        max = Math.max(max, w[u]);
                    }
                    double sum = 0;
                    for (int u = first; u <= t; u++) {
                        w[u] = Math.exp(w[u] - max);
                        sum += w[u];
                    }
                    for (int u = first; u <= t; u++) {
                        for (int j = 0; j < d; j++) {
                            ctx[hq * d + j] += w[u] / sum * v[u][hk * d + j];
                        }
                    }
                }
                add(x[t], mul(l.o(), ctx));
            }
            for (int t = 0; t < n; t++) {
                double[] h = rmsNorm(x[t], l.postNorm());
                double[] g = mul(l.gate(), h), u = mul(l.up(), h);
                for (int j = 0; j < g.length; j++) {
                    g[j] = g[j] / (1 + Math.exp(-g[j])) * u[j];
                }
                add(x[t], mul(l.down(), g));
            }
        }
        double[][] out = new double[n][];
        for (int t = 0; t < n; t++) {
            out[t] = mul(head, rmsNorm(x[t], finalNorm));
        }
        return out;
    }

    /** HF's rotate_half layout: element j pairs with j + d/2 in each head, at angle position / theta^(2j/d). */
    private double[] rope(double[] x, long position, int heads) {
        int d = s.headDim(), half = d / 2;
        double[] out = x.clone();
        for (int h = 0; h < heads; h++) {
            for (int j = 0; j < half; j++) {
                double angle = position / Math.pow(theta, 2.0 * j / d);
                double a = x[h * d + j], b = x[h * d + j + half];
                out[h * d + j] = a * Math.cos(angle) - b * Math.sin(angle);
                out[h * d + j + half] = b * Math.cos(angle) + a * Math.sin(angle);
            }
        }
        return out;
    }

    private double[] rmsNorm(double[] x, double[] w) {
        double ss = 0;
        for (double v : x) {
            ss += v * v;
        }
        double r = 1 / Math.sqrt(ss / x.length + eps);
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] * r * w[i];
        }
        return out;
    }

    private static double[] mul(double[][] w, double[] x) {
        double[] y = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            double acc = 0;
            for (int j = 0; j < x.length; j++) {
                acc += w[i][j] * x[j];
            }
            y[i] = acc;
        }
        return y;
    }

    private static void add(double[] acc, double[] y) {
        for (int i = 0; i < acc.length; i++) {
            acc[i] += y[i];
        }
    }
}
