package dev.arica.runtime.generate;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A plain-Java float32 Llama forward pass over an HF-layout checkpoint (tied or untied classifier), one
 * token at a time, with a key/value cache: a slow but obvious {@link Decoder} to check the generation loop
 * against the reference outputs of a real model. HF rotary layout: (x[i], x[i + head/2]) pairs.
 */
final class LlamaReferenceDecoder implements Decoder {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int dim, hidden, layers, heads, kvHeads, head, vocab, context;
    private final float eps;
    private final double theta;
    private final float[] embed, norm, classifier;
    private final float[][] attnNorm, wq, wk, wv, wo, ffnNorm, gate, up, down;
    private final float[][][] keys, values;
    private int pos;

    LlamaReferenceDecoder(Checkpoint c) throws IOException {
        ObjectNode cfg = c.config().orElseThrow();
        dim = cfg.get("hidden_size").intValue();
        hidden = cfg.get("intermediate_size").intValue();
        layers = cfg.get("num_hidden_layers").intValue();
        heads = cfg.get("num_attention_heads").intValue();
        kvHeads = cfg.get("num_key_value_heads").intValue();
        head = dim / heads;
        vocab = cfg.get("vocab_size").intValue();
        context = cfg.get("max_position_embeddings").intValue();
        eps = cfg.get("rms_norm_eps").floatValue();
        theta = cfg.get("rope_theta").doubleValue();
        embed = floats(c, "model.embed_tokens.weight");
        norm = floats(c, "model.norm.weight");
        classifier = c.tensors().stream().anyMatch(t -> t.name().equals("lm_head.weight")) ? floats(c, "lm_head.weight") : embed;
        attnNorm = perLayer(c, "input_layernorm");
        wq = perLayer(c, "self_attn.q_proj");
        wk = perLayer(c, "self_attn.k_proj");
        wv = perLayer(c, "self_attn.v_proj");
        wo = perLayer(c, "self_attn.o_proj");
        ffnNorm = perLayer(c, "post_attention_layernorm");
        gate = perLayer(c, "mlp.gate_proj");
        up = perLayer(c, "mlp.up_proj");
        down = perLayer(c, "mlp.down_proj");
        int kvDim = kvHeads * head;
        keys = new float[layers][context][kvDim];
        values = new float[layers][context][kvDim];
    }

    private float[][] perLayer(Checkpoint c, String name) throws IOException {
        float[][] out = new float[layers][];
        for (int l = 0; l < layers; l++) {
            out[l] = floats(c, "model.layers." + l + "." + name + ".weight");
        }
        return out;
    }

    private static float[] floats(Checkpoint c, String name) throws IOException {
        Tensor t = c.tensor(name);
        if (t.info().dtype() != DType.F32) {
            throw new IllegalArgumentException(name + " is " + t.info().dtype());
        }
        float[] out = new float[Math.toIntExact(t.info().elements())];
        int k = 0;
        for (MemorySegment p : t.parts()) {
            for (long i = 0; i < p.byteSize(); i += 4) {
                out[k++] = p.get(F32, i);
            }
        }
        return out;
    }

    @Override
    public float[] forward(long[] ids, long[] positions) {
        float[] logits = null;
        for (int i = 0; i < ids.length; i++) {
            if (positions[i] != pos) {
                throw new IllegalArgumentException("position " + positions[i] + " after " + pos);
            }
            logits = step((int) ids[i]);
        }
        return logits;
    }

    private float[] step(int token) {
        float[] x = new float[dim];
        System.arraycopy(embed, token * dim, x, 0, dim);
        int kvDim = kvHeads * head;
        for (int l = 0; l < layers; l++) {
            float[] xb = rmsnorm(x, attnNorm[l]);
            float[] q = matvec(wq[l], xb, dim, dim);
            float[] k = matvec(wk[l], xb, kvDim, dim);
            float[] v = matvec(wv[l], xb, kvDim, dim);
            rotate(q, heads);
            rotate(k, kvHeads);
            keys[l][pos] = k;
            values[l][pos] = v;
            float[] att = new float[dim];
            for (int h = 0; h < heads; h++) {
                int kvh = h / (heads / kvHeads);
                float[] scores = new float[pos + 1];
                float max = Float.NEGATIVE_INFINITY;
                for (int t = 0; t <= pos; t++) {
                    float s = 0;
                    for (int i = 0; i < head; i++) {
                        s += q[h * head + i] * keys[l][t][kvh * head + i];
                    }
                    scores[t] = s / (float) Math.sqrt(head);
                    max = Math.max(max, scores[t]);
                }
                float sum = 0;
                for (int t = 0; t <= pos; t++) {
                    scores[t] = (float) Math.exp(scores[t] - max);
                    sum += scores[t];
                }
                for (int t = 0; t <= pos; t++) {
                    float a = scores[t] / sum;
                    for (int i = 0; i < head; i++) {
                        att[h * head + i] += a * values[l][t][kvh * head + i];
                    }
                }
            }
            add(x, matvec(wo[l], att, dim, dim));
            xb = rmsnorm(x, ffnNorm[l]);
            float[] g = matvec(gate[l], xb, hidden, dim);
            float[] u = matvec(up[l], xb, hidden, dim);
            for (int i = 0; i < hidden; i++) {
                g[i] = g[i] / (1f + (float) Math.exp(-g[i])) * u[i];
            }
            add(x, matvec(down[l], g, dim, hidden));
        }
        pos++;
        return matvec(classifier, rmsnorm(x, norm), vocab, dim);
    }

    /** HF rotary embedding at the current position: (x[i], x[i + head/2]) rotated by pos / theta^(2i/head). */
    private void rotate(float[] v, int n) {
        for (int h = 0; h < n; h++) {
            for (int i = 0; i < head / 2; i++) {
                double angle = pos / Math.pow(theta, 2.0 * i / head);
                float cos = (float) Math.cos(angle), sin = (float) Math.sin(angle);
                int a = h * head + i, b = a + head / 2;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * cos - x1 * sin;
                v[b] = x0 * sin + x1 * cos;
            }
        }
    }

    private float[] rmsnorm(float[] x, float[] w) {
        float ss = 0;
        for (float v : x) {
            ss += v * v;
        }
        float scale = (float) (1.0 / Math.sqrt(ss / x.length + eps));
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = w[i] * x[i] * scale;
        }
        return out;
    }

    private static float[] matvec(float[] w, float[] x, int rows, int cols) {
        float[] out = new float[rows];
        for (int r = 0; r < rows; r++) {
            float s = 0;
            for (int c = 0; c < cols; c++) {
                s += w[r * cols + c] * x[c];
            }
            out[r] = s;
        }
        return out;
    }

    private static void add(float[] x, float[] y) {
        for (int i = 0; i < x.length; i++) {
            x[i] += y[i];
        }
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public int cacheLength() {
        return pos;
    }

    @Override
    public int contextLength() {
        return context;
    }

    @Override
    public void reset() {
        pos = 0;
    }

    @Override
    public void close() {}
}
