package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import dev.arica.formats.DType;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.proto.GraphProto;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The decoder graph of a Llama model in standard ONNX operators (opset {@value #OPSET}), with a key/value
 * cache. One graph serves the prompt (sequence length > 1) and each decoding step (sequence length 1).
 *
 * <p>Hidden states flow as 2-D [batch * seq, hidden] so that every projection is a {@code Gemm} with
 * {@code transB = 1} on the weight exactly as Hugging Face stores it, [out, in]: the export copies weights
 * byte for byte, the runtime needs no Transpose (folded or not), and a tied embedding is one initializer
 * shared by Gather and the output projection. Activations are float32 whatever the weights' type.
 */
final class LlamaGraph {

    /** ONNX opset of the graph: ReduceMean still takes its axes as an attribute (an input from 18). */
    static final int OPSET = 17;
    /** IR version matching opset 17. */
    static final int IR_VERSION = 8;

    static final String BATCH = "batch_size";
    static final String SEQ = "sequence_length";
    static final String PAST = "past_sequence_length";
    static final String TOTAL = "total_sequence_length";

    private final LlamaConfig c;
    private final DType weightType;
    private final GraphBuilder g = new GraphBuilder("arica_llama_decoder");
    private final Map<String, String> f32Weights = new HashMap<>();
    /** Small constants shared by all layers, created once by {@link #constants()}. */
    private String one, zero, axis0, axis1, axis2, axis3, halfStart, half, headDim, scale, eps, two;
    private String groupsShape, headsShape, rowsShape;

    private LlamaGraph(LlamaConfig c, DType weightType) {
        this.c = c;
        this.weightType = weightType;
    }

    /** The graph without the weights' data: they are added as initializers named as in the checkpoint. */
    static GraphProto.Builder build(LlamaConfig c, DType weightType) {
        LlamaGraph l = new LlamaGraph(c, weightType);
        l.decoder();
        return l.g.proto();
    }

    /** A weight as float32: itself, or a Cast of the f16 initializer (which ONNX Runtime folds on load). */
    private String weight(String name) {
        if (weightType == DType.F32) {
            return name;
        }
        return f32Weights.computeIfAbsent(name, n -> g.node("Cast", n + "/f32", n, attr("to", OnnxType.FLOAT.code())));
    }

    private void constants() {
        one = g.scalar("const/one", 1L);
        zero = g.scalar("const/zero", 0L);
        axis0 = g.ints("const/axis0", 0);
        axis1 = g.ints("const/axis1", 1);
        axis2 = g.ints("const/axis2", 2);
        axis3 = g.ints("const/axis3", 3);
        halfStart = g.ints("const/half_start", 0);
        half = g.ints("const/half", c.headDim() / 2);
        headDim = g.ints("const/head_dim", c.headDim());
        scale = g.scalar("const/scale", (float) (1.0 / Math.sqrt(c.headDim())));
        eps = g.scalar("const/rms_eps", (float) c.rmsNormEps());
        two = g.scalar("const/two", 2f);
        int d = c.headDim();
        groupsShape = g.ints("const/groups_shape", 0, c.kvHeads(), c.groupSize(), -1, d);
        headsShape = g.ints("const/heads_shape", 0, c.heads(), -1, d);
        rowsShape = g.ints("const/rows_shape", -1, (long) c.heads() * d);
    }

    private void decoder() {
        for (String w : c.weightShapes().keySet()) {
            g.reserve(w);
        }
        constants();
        int d = c.headDim();
        String ids = g.input(DecoderIo.INPUT_IDS, OnnxType.INT64, BATCH, SEQ);
        String mask = g.input(DecoderIo.ATTENTION_MASK, OnnxType.INT64, BATCH, TOTAL);
        String positions = g.input(DecoderIo.POSITION_IDS, OnnxType.INT64, BATCH, SEQ);
        for (int i = 0; i < c.layers(); i++) {
            g.input(DecoderIo.pastKey(i), OnnxType.FLOAT, BATCH, (long) c.kvHeads(), PAST, (long) d);
            g.input(DecoderIo.pastValue(i), OnnxType.FLOAT, BATCH, (long) c.kvHeads(), PAST, (long) d);
        }

        // Shapes: [batch, seq] of the new tokens, then the reshape targets built from it.
        String bs = g.node("Shape", "shape/batch_seq", ids);
        String seqLen = g.node("Gather", "shape/seq", List.of(bs, one), attr("axis", 0L));
        String totalLen = g.node("Gather", "shape/total", List.of(g.node("Shape", "shape/mask", mask), one), attr("axis", 0L));
        String pastLen = g.node("Sub", "shape/past", List.of(totalLen, seqLen));
        String bshd = g.node("Concat", "shape/bs_heads_dim", List.of(bs, g.ints("const/heads_dim", c.heads(), d)), attr("axis", 0L));
        String bskd = g.node("Concat", "shape/bs_kv_dim", List.of(bs, g.ints("const/kv_heads_dim", c.kvHeads(), d)), attr("axis", 0L));
        String bsv = g.node("Concat", "shape/bs_vocab", List.of(bs, g.ints("const/vocab", c.vocab())), attr("axis", 0L));

        String[] rotary = rotary(positions);
        String bias = attentionBias(mask, pastLen, totalLen);

        String flatIds = g.node("Reshape", "embed/ids", List.of(ids, g.ints("const/flat", -1)));
        String x = g.node("Gather", "embed/out", List.of(weight(LlamaConfig.EMBED), flatIds), attr("axis", 0L));
        for (int i = 0; i < c.layers(); i++) {
            x = layer(i, x, bshd, bskd, rotary, bias);
        }
        String normed = rmsNorm("final_norm", x, LlamaConfig.FINAL_NORM);
        String head = weight(c.tied() ? LlamaConfig.EMBED : LlamaConfig.LM_HEAD);
        String logits2d = linear("lm_head", normed, head);
        g.node("Reshape", DecoderIo.LOGITS, List.of(logits2d, bsv));
        g.output(DecoderIo.LOGITS, OnnxType.FLOAT, BATCH, SEQ, (long) c.vocab());
        for (int i = 0; i < c.layers(); i++) {
            g.output(DecoderIo.presentKey(i), OnnxType.FLOAT, BATCH, (long) c.kvHeads(), TOTAL, (long) d);
            g.output(DecoderIo.presentValue(i), OnnxType.FLOAT, BATCH, (long) c.kvHeads(), TOTAL, (long) d);
        }
    }

    /**
     * cos and sin of the rotary angles, [batch, 1, seq, head_dim]: angle = position * inv_freq[j] with
     * inv_freq[j] = 1 / theta^(2j / head_dim), the half-split layout of HF's rotate_half (both halves share
     * the frequencies).
     */
    private String[] rotary(String positions) {
        int half = c.headDim() / 2;
        float[] inv = new float[half];
        for (int j = 0; j < half; j++) {
            inv[j] = (float) (1.0 / Math.pow(c.ropeTheta(), 2.0 * j / c.headDim()));
        }
        String pos = g.node("Cast", "rope/positions", positions, attr("to", OnnxType.FLOAT.code()));
        String pos3 = g.node("Unsqueeze", "rope/positions3", List.of(pos, axis2));
        String freqs = g.node("Mul", "rope/freqs", List.of(pos3, g.floats("rope/inv_freq", inv)));
        String angles = g.node("Concat", "rope/angles", List.of(freqs, freqs), attr("axis", -1L));
        String cos = g.node("Unsqueeze", "rope/cos", List.of(g.node("Cos", "rope/cos3", angles), axis1));
        String sin = g.node("Unsqueeze", "rope/sin", List.of(g.node("Sin", "rope/sin3", angles), axis1));
        return new String[] {cos, sin};
    }

    /**
     * Additive attention bias, [batch, 1, 1, seq, total]: 0 where query i (cache index past + i) may see key
     * j, that is j <= past + i and attention_mask[j] = 1, else float32's lowest value (not -inf, so a fully
     * masked row, such as a padding query, stays finite).
     */
    private String attentionBias(String mask, String pastLen, String totalLen) {
        String keys = g.node("Range", "mask/key_index", List.of(zero, totalLen, one));
        String queries = g.node("Range", "mask/query_index", List.of(pastLen, totalLen, one));
        String causal = g.node("LessOrEqual", "mask/causal", List.of(
                g.node("Unsqueeze", "mask/key_row", List.of(keys, axis0)),
                g.node("Unsqueeze", "mask/query_col", List.of(queries, axis1))));
        String valid = g.node("Cast", "mask/valid", mask, attr("to", OnnxType.BOOL.code()));
        String valid3 = g.node("Unsqueeze", "mask/valid3", List.of(valid, axis1));
        String allowed = g.node("And", "mask/allowed", List.of(causal, valid3));
        String bias = g.node("Where", "mask/bias3", List.of(allowed, g.scalar("const/f0", 0f),
                g.scalar("const/lowest", -Float.MAX_VALUE)));
        return g.node("Unsqueeze", "mask/bias", List.of(bias, g.ints("const/axes12", 1, 2)));
    }

    private String layer(int i, String x, String bshd, String bskd, String[] rotary, String bias) {
        String p = "layers." + i + "/";
        String h = rmsNorm(p + "input_norm", x, LlamaConfig.layer(i, "input_layernorm"));
        String q = linear(p + "q_proj", h, weight(LlamaConfig.layer(i, "self_attn.q_proj")));
        String k = linear(p + "k_proj", h, weight(LlamaConfig.layer(i, "self_attn.k_proj")));
        String v = linear(p + "v_proj", h, weight(LlamaConfig.layer(i, "self_attn.v_proj")));
        long[] toHeads = {0, 2, 1, 3};
        String q4 = g.node("Transpose", p + "q_heads", g.node("Reshape", p + "q_bshd", List.of(q, bshd)), attr("perm", toHeads));
        String k4 = g.node("Transpose", p + "k_heads", g.node("Reshape", p + "k_bshd", List.of(k, bskd)), attr("perm", toHeads));
        String v4 = g.node("Transpose", p + "v_heads", g.node("Reshape", p + "v_bshd", List.of(v, bskd)), attr("perm", toHeads));
        String qr = rope(p + "q_rope", q4, rotary);
        String kr = rope(p + "k_rope", k4, rotary);
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
        String masked = g.node("Add", p + "scores_masked", List.of(scaled, bias));
        String probs = g.node("Softmax", p + "probs", masked, attr("axis", -1L));
        String ctx5 = g.node("MatMul", p + "context_5d", List.of(probs, v5));
        String ctx4 = g.node("Reshape", p + "context_4d", List.of(ctx5, headsShape));
        String ctxT = g.node("Transpose", p + "context_bshd", ctx4, attr("perm", toHeads));
        String ctx = g.node("Reshape", p + "context", List.of(ctxT, rowsShape));
        String attn = linear(p + "o_proj", ctx, weight(LlamaConfig.layer(i, "self_attn.o_proj")));
        String x2 = g.node("Add", p + "attn_residual", List.of(x, attn));

        String h2 = rmsNorm(p + "post_attention_norm", x2, LlamaConfig.layer(i, "post_attention_layernorm"));
        String gate = linear(p + "gate_proj", h2, weight(LlamaConfig.layer(i, "mlp.gate_proj")));
        String up = linear(p + "up_proj", h2, weight(LlamaConfig.layer(i, "mlp.up_proj")));
        String silu = g.node("Mul", p + "silu", List.of(gate, g.node("Sigmoid", p + "gate_sigmoid", gate)));
        String act = g.node("Mul", p + "swiglu", List.of(silu, up));
        String down = linear(p + "down_proj", act, weight(LlamaConfig.layer(i, "mlp.down_proj")));
        return g.node("Add", p + "mlp_residual", List.of(x2, down));
    }

    /** x @ W^T for x [rows, in] and W [out, in] as stored. */
    private String linear(String name, String x, String w) {
        return g.node("Gemm", name, List.of(x, w), attr("transB", 1L));
    }

    /** x * cos + rotate_half(x) * sin, rotate_half(x) = concat(-x[d/2:], x[:d/2]) on the last axis. */
    private String rope(String name, String x, String[] rotary) {
        String lo = g.node("Slice", name + "/lo", List.of(x, halfStart, half, axis3));
        String hi = g.node("Slice", name + "/hi", List.of(x, half, headDim, axis3));
        String rotated = g.node("Concat", name + "/rotated", List.of(g.node("Neg", name + "/neg_hi", hi), lo), attr("axis", -1L));
        String a = g.node("Mul", name + "/cos", List.of(x, rotary[0]));
        String b = g.node("Mul", name + "/sin", List.of(rotated, rotary[1]));
        return g.node("Add", name, List.of(a, b));
    }

    /** RMSNorm in float32: x / sqrt(mean(x^2) + eps) * weight, over the hidden axis. */
    private String rmsNorm(String name, String x, String weightName) {
        String sq = g.node("Pow", name + "/square", List.of(x, two));
        String mean = g.node("ReduceMean", name + "/mean", sq, attr("axes", new long[] {-1}), attr("keepdims", 1L));
        String root = g.node("Sqrt", name + "/root", g.node("Add", name + "/mean_eps", List.of(mean, eps)));
        String normed = g.node("Div", name + "/normed", List.of(x, root));
        return g.node("Mul", name, List.of(normed, weight(weightName)));
    }
}
