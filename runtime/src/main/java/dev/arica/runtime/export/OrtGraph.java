package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import dev.arica.formats.DType;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.onnx.OnnxType;
import java.util.List;
import java.util.Map;

/**
 * The {@link OnnxExporter.Flavour#ORT_OPTIMIZED} graph: the same inputs, outputs and results as the
 * standard graph, with ONNX Runtime's fused operators where they replace many small ones:
 * SimplifiedLayerNormalization (RMSNorm; registered by ONNX Runtime in the default domain),
 * com.microsoft SkipSimplifiedLayerNormalization and SkipLayerNormalization (residual add + norm), RotaryEmbedding,
 * GroupQueryAttention (cache concatenation, grouped heads, causal softmax), QuickGelu (silu with alpha 1), FastGelu
 * (tanh GELU) and Gelu (exact GELU).
 *
 * <p>GroupQueryAttention takes its causal window from {@code seqlens_k}, one length per sequence with the
 * valid tokens assumed at the start of the cache. The graph's contract is different (the new tokens sit at
 * cache index past + i, and attention_mask may mark padding anywhere), so seqlens_k is total - 1 for every
 * sequence, which makes the operator's cache layout and causal window those of the standard graph, and the
 * padding reaches it as the same additive bias the standard graph builds. Its built-in rotary is not used:
 * it takes a prompt's positions from the first position id only, while RotaryEmbedding reads every one.
 *
 * <p>Models whose attention soft-caps its scores or slides a window (Gemma-2, Mistral with sliding_window) use the
 * standard graph's attention: GroupQueryAttention would apply its soft-cap and window on its own terms, after or
 * apart from the padding bias, which is not what transformers computes. Their norms and activations stay fused.
 */
final class OrtGraph extends StandardGraph {
    private final boolean standardAttention;
    private String positions, cosCache, sinCache, qShape, kvShape, seqlensK, total32, bias;

    OrtGraph(ModelDescription m, DType weightType, Quantization quantization, Map<String, LoraBranch> branches) {
        super(m, weightType, quantization, branches);
        standardAttention = c.attentionSoftCap() > 0 || c.anySliding();
    }

    @Override
    void prepare(String ids, String mask, String positions) {
        opsets.put(MS_DOMAIN, 1);
        if (standardAttention) {
            super.prepare(ids, mask, positions);
            return;
        }
        this.positions = positions;
        int d = c.headDim();
        qShape = g.node("Concat", "shape/bs_q", List.of(batchSeq, g.ints("const/q_width", (long) c.heads() * d)), attr("axis", 0L));
        kvShape = g.node("Concat", "shape/bs_kv", List.of(batchSeq, g.ints("const/kv_width", (long) c.kvHeads() * d)), attr("axis", 0L));
        String batch = g.node("Gather", "shape/batch", List.of(batchSeq, axis0), attr("axis", 0L));
        String last = g.node("Sub", "gqa/last_index", List.of(totalLen, one));
        String lastPerRow = g.node("Expand", "gqa/last_index_rows", List.of(last, batch));
        seqlensK = g.node("Cast", "gqa/seqlens_k", lastPerRow, attr("to", OnnxType.INT32.code()));
        total32 = g.node("Cast", "gqa/total_sequence_length", totalLen, attr("to", OnnxType.INT32.code()));
        bias = g.node("Unsqueeze", "mask/bias", List.of(attentionBias("mask", mask, 0), axis1));

        if (c.positions() == DecoderConfig.Positions.ROTARY) {
            // The tables hold cos and sin of position * inv_freq[j], the product rounded to float32 as the
            // standard graph computes it; one row per position up to the context length.
            float[] inv = inverseFrequencies();
            int half = inv.length;
            cosCache = computed("rope/cos_cache", c.maxPositions(), half, e -> Math.cos((float) (e / half) * inv[(int) (e % half)]));
            sinCache = computed("rope/sin_cache", c.maxPositions(), half, e -> Math.sin((float) (e / half) * inv[(int) (e % half)]));
        }
    }

    @Override
    String attention(int i, String q, String k, String v) {
        if (standardAttention) {
            return super.attention(i, q, k, v);
        }
        String p = "layers." + i + "/";
        String q3 = g.node("Reshape", p + "q_bsh", List.of(q, qShape));
        String k3 = g.node("Reshape", p + "k_bsh", List.of(k, kvShape));
        String v3 = g.node("Reshape", p + "v_bsh", List.of(v, kvShape));
        boolean rotary = c.positions() == DecoderConfig.Positions.ROTARY;
        String qr = rotary ? rope(p + "q_rope", q3) : q3;
        String kr = rotary ? rope(p + "k_rope", k3) : k3;
        String ctx = p + "context_bsh";
        g.node(MS_DOMAIN, "GroupQueryAttention", List.of(ctx, DecoderIo.presentKey(i), DecoderIo.presentValue(i)),
                List.of(qr, kr, v3, DecoderIo.pastKey(i), DecoderIo.pastValue(i), seqlensK, total32, "", "", "", bias),
                attr("num_heads", (long) c.heads()), attr("kv_num_heads", (long) c.kvHeads()),
                attr("scale", (float) c.attentionScale()));
        return g.node("Reshape", p + "context", List.of(ctx, rowsShape));
    }

    /** HF's half-split rotation of every head of x [batch, seq, heads * head_dim], at position_ids. */
    private String rope(String name, String x) {
        g.node(MS_DOMAIN, "RotaryEmbedding", List.of(name), List.of(x, positions, cosCache, sinCache),
                attr("interleaved", 0L));
        return name;
    }

    @Override
    String norm(String name, String x, Norm norm) {
        if (c.norm() == DecoderConfig.Norm.LAYER) {
            return super.norm(name, x, norm);
        }
        g.node("", "SimplifiedLayerNormalization", List.of(name), List.of(x, normWeight(norm.weight())),
                attr("axis", -1L), attr("epsilon", (float) c.normEps()));
        return name;
    }

    @Override
    String[] addNorm(String sumName, String normName, String residual, String delta, Norm norm) {
        // Outputs: normed, mean and inv_std_var (left out), input + skip.
        if (c.norm() == DecoderConfig.Norm.LAYER) {
            g.node(MS_DOMAIN, "SkipLayerNormalization", List.of(normName, "", "", sumName),
                    List.of(delta, residual, weight(norm.weight().name()), weight(norm.bias().name())),
                    attr("epsilon", (float) c.normEps()));
        } else {
            g.node(MS_DOMAIN, "SkipSimplifiedLayerNormalization", List.of(normName, "", "", sumName),
                    List.of(delta, residual, normWeight(norm.weight())), attr("epsilon", (float) c.normEps()));
        }
        return new String[] {sumName, normName};
    }

    @Override
    String activation(String name, String x) {
        return Activations.fused(g, c.activation(), name, x);
    }
}
