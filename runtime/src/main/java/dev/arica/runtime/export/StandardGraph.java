package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import dev.arica.formats.DType;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.onnx.OnnxType;
import java.util.List;
import java.util.Map;

/**
 * The {@link OnnxExporter.Flavour#STANDARD} graph: standard ONNX operators only (opset
 * {@value DecoderGraph#OPSET}), which any ONNX Runtime build, execution provider or other runtime can run.
 */
class StandardGraph extends DecoderGraph {
    /** [-1], made on first use (opset 18 and later). */
    private String lastAxis;

    private String axis2, axis3, halfStart, half, headDim, scale, eps, two, groupsShape, headsShape, bshd, bskd, bias,
            windowBias;
    /** cos and sin of the rotary angles, [batch, 1, seq, head_dim]. */
    private String cos, sin;

    StandardGraph(ModelDescription m, DType weightType, Quantization quantization, Map<String, LoraBranch> branches) {
        super(m, weightType, quantization, branches);
    }

    @Override
    void prepare(String ids, String mask, String positions) {
        int d = c.headDim();
        axis2 = g.ints("const/axis2", 2);
        axis3 = g.ints("const/axis3", 3);
        halfStart = g.ints("const/half_start", 0);
        half = g.ints("const/half", d / 2);
        headDim = g.ints("const/head_dim", d);
        scale = g.scalar("const/scale", (float) c.attentionScale());
        eps = g.scalar("const/rms_eps", (float) c.normEps());
        two = g.scalar("const/two", 2f);
        groupsShape = g.ints("const/groups_shape", 0, c.kvHeads(), c.groupSize(), -1, d);
        headsShape = g.ints("const/heads_shape", 0, c.heads(), -1, d);
        bshd = g.node("Concat", "shape/bs_heads_dim", List.of(batchSeq, g.ints("const/heads_dim", c.heads(), d)), attr("axis", 0L));
        bskd = g.node("Concat", "shape/bs_kv_dim", List.of(batchSeq, g.ints("const/kv_heads_dim", c.kvHeads(), d)), attr("axis", 0L));

        if (c.positions() == DecoderConfig.Positions.ROTARY) {
            // angle = position * inv_freq[j], duplicated over both halves (HF's rotate_half layout).
            String pos = g.node("Cast", "rope/positions", positions, attr("to", OnnxType.FLOAT.code()));
            String pos3 = g.node("Unsqueeze", "rope/positions3", List.of(pos, axis2));
            String freqs = g.node("Mul", "rope/freqs", List.of(pos3, g.floats("rope/inv_freq", inverseFrequencies())));
            String angles = g.node("Concat", "rope/angles", List.of(freqs, freqs), attr("axis", -1L));
            cos = g.node("Unsqueeze", "rope/cos", List.of(g.node("Cos", "rope/cos3", angles), axis1));
            sin = g.node("Unsqueeze", "rope/sin", List.of(g.node("Sin", "rope/sin3", angles), axis1));
        }
        // [batch, 1, 1, seq, total]: broadcast over the kv-head and group axes of the attention scores.
        String bias3 = attentionBias("mask", mask, 0);
        String axes12 = g.ints("const/axes12", 1, 2);
        bias = g.node("Unsqueeze", "mask/bias", List.of(bias3, axes12));
        if (c.anySliding()) {
            windowBias = g.node("Unsqueeze", "window_mask/bias", List.of(attentionBias("window_mask", mask, c.slidingWindow()),
                    axes12));
        }
    }

    @Override
    String attention(int i, String q, String k, String v) {
        String p = "layers." + i + "/";
        long[] toHeads = {0, 2, 1, 3};
        String q4 = g.node("Transpose", p + "q_heads", g.node("Reshape", p + "q_bshd", List.of(q, bshd)), attr("perm", toHeads));
        String k4 = g.node("Transpose", p + "k_heads", g.node("Reshape", p + "k_bshd", List.of(k, bskd)), attr("perm", toHeads));
        String v4 = g.node("Transpose", p + "v_heads", g.node("Reshape", p + "v_bshd", List.of(v, bskd)), attr("perm", toHeads));
        boolean rotary = c.positions() == DecoderConfig.Positions.ROTARY;
        String qr = rotary ? rope(p + "q_rope", q4) : q4;
        String kr = rotary ? rope(p + "k_rope", k4) : k4;
        String keys = g.node("Concat", DecoderIo.presentKey(i), List.of(DecoderIo.pastKey(i), kr), attr("axis", 2L));
        String values = g.node("Concat", DecoderIo.presentValue(i), List.of(DecoderIo.pastValue(i), v4), attr("axis", 2L));

        // Grouped-query attention without copying the cache: the query heads of one kv head form an extra
        // axis, [batch, kv, group, seq, d], and the kv tensors broadcast over it as [batch, kv, 1, total, d].
        String q5 = g.node("Reshape", p + "q_groups", List.of(qr, groupsShape));
        String kt = g.node("Transpose", p + "keys_t", keys, attr("perm", new long[] {0, 1, 3, 2}));
        String k5 = g.node("Unsqueeze", p + "keys_5d", List.of(kt, axis2));
        String v5 = g.node("Unsqueeze", p + "values_5d", List.of(values, axis2));
        String scores = g.node("MatMul", p + "scores", List.of(q5, k5));
        String scaled = g.node("Mul", p + "scores_scaled", List.of(scores, scale));
        if (c.attentionSoftCap() > 0) {
            // Gemma-2 caps the scores before the mask.
            scaled = softCap(p + "scores_capped", scaled, c.attentionSoftCap());
        }
        String masked = g.node("Add", p + "scores_masked", List.of(scaled, c.sliding(i) ? windowBias : bias));
        String probs = g.node("Softmax", p + "probs", masked, attr("axis", -1L));
        String ctx5 = g.node("MatMul", p + "context_5d", List.of(probs, v5));
        String ctx4 = g.node("Reshape", p + "context_4d", List.of(ctx5, headsShape));
        String ctxT = g.node("Transpose", p + "context_bshd", ctx4, attr("perm", toHeads));
        return g.node("Reshape", p + "context", List.of(ctxT, rowsShape));
    }

    /** x * cos + rotate_half(x) * sin, rotate_half(x) = concat(-x[d/2:], x[:d/2]) on the last axis. */
    private String rope(String name, String x) {
        String lo = g.node("Slice", name + "/lo", List.of(x, halfStart, half, axis3));
        String hi = g.node("Slice", name + "/hi", List.of(x, half, headDim, axis3));
        String rotated = g.node("Concat", name + "/rotated", List.of(g.node("Neg", name + "/neg_hi", hi), lo), attr("axis", -1L));
        String a = g.node("Mul", name + "/cos", List.of(x, cos));
        String b = g.node("Mul", name + "/sin", List.of(rotated, sin));
        return g.node("Add", name, List.of(a, b));
    }

    /** RMSNorm in float32, x / sqrt(mean(x^2) + eps) * weight; or LayerNorm with its bias. */
    @Override
    String norm(String name, String x, Norm norm) {
        if (c.norm() == DecoderConfig.Norm.LAYER) {
            return g.node("LayerNormalization", name, List.of(x, weight(norm.weight().name()), weight(norm.bias().name())),
                    attr("axis", -1L), attr("epsilon", (float) c.normEps()));
        }
        String sq = g.node("Pow", name + "/square", List.of(x, two));
        // ReduceMean's axes became an input in opset 18.
        String mean = opset >= 18
                ? g.node("ReduceMean", name + "/mean", List.of(sq, lastAxis()), attr("keepdims", 1L))
                : g.node("ReduceMean", name + "/mean", sq, attr("axes", new long[] {-1}), attr("keepdims", 1L));
        String root = g.node("Sqrt", name + "/root", g.node("Add", name + "/mean_eps", List.of(mean, eps)));
        String normed = g.node("Div", name + "/normed", List.of(x, root));
        return g.node("Mul", name, List.of(normed, normWeight(norm.weight())));
    }

    private String lastAxis() {
        if (lastAxis == null) {
            lastAxis = g.ints("const/last_axis", -1);
        }
        return lastAxis;
    }

    @Override
    String[] addNorm(String sumName, String normName, String residual, String delta, Norm norm) {
        String sum = g.node("Add", sumName, List.of(residual, delta));
        return new String[] {sum, norm(normName, sum, norm)};
    }

    @Override
    String activation(String name, String x) {
        return Activations.standard(g, c.activation(), name, x);
    }
}
