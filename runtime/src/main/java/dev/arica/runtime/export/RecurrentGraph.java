package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import dev.arica.formats.DType;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.model.RecurrentConfig;
import dev.arica.formats.model.Role;
import dev.arica.formats.model.TensorSpec;
import dev.arica.formats.model.TensorTable;
import dev.arica.formats.onnx.OnnxType;
import java.util.List;
import java.util.Map;

/**
 * The graph of a recurrent model with additive attention (Aricate) that runs incrementally: each call feeds the new
 * tokens with the state the previous call returned (every GRU layer's hidden state, and the attention's past keys and
 * past top-layer outputs, which grow by the tokens fed) and returns the logits at every new position with the state
 * to feed back. The first call's past is zeros for the hidden states and empty (length 0) for the attention.
 *
 * <p>The GRU layers are ONNX's {@code GRU} with {@code linear_before_reset = 1}, which is torch.nn.GRU's formula; its
 * gate blocks are ordered z, r, h where PyTorch stores r, z, n, so the weights and biases are reordered in the graph
 * (constant-folded by ONNX Runtime on load). The attention has no standard operator: score = energy . tanh(q_t + k_s)
 * over every past and new key, masked causally, softmax, context = sum alpha o_s.
 */
final class RecurrentGraph {
    static final String BATCH = DecoderGraph.BATCH;
    static final String SEQ = DecoderGraph.SEQ;
    static final String PAST = DecoderGraph.PAST;
    static final String TOTAL = DecoderGraph.TOTAL;

    private final RecurrentConfig c;
    private final TensorTable t;
    private final GraphBuilder g = new GraphBuilder("arica_recurrent_decoder");
    private final GraphWeights weights;
    private String axis0;

    private RecurrentGraph(ModelDescription m, DType weightType, DecoderGraph.Quantization quantization,
            Map<String, DecoderGraph.LoraBranch> branches) {
        this.c = (RecurrentConfig) m.config();
        this.t = m.tensors();
        this.weights = new GraphWeights(g, weightType, quantization, branches);
    }

    static DecoderGraph.Built build(ModelDescription m, DType weightType, DecoderGraph.Quantization quantization,
            Map<String, DecoderGraph.LoraBranch> branches) {
        RecurrentGraph r = new RecurrentGraph(m, weightType, quantization, branches);
        r.graph();
        return r.weights.built();
    }

    private void graph() {
        for (TensorSpec w : t.specs()) {
            g.reserve(w.name());
        }
        long h = c.hidden(), a = c.attentionDim();
        axis0 = g.ints("const/axis0", 0);
        String axis1 = g.ints("const/axis1", 1);
        String axis2 = g.ints("const/axis2", 2);
        String one = g.scalar("const/one", 1L);
        String zero = g.scalar("const/zero", 0L);
        String ids = g.input(DecoderIo.INPUT_IDS, OnnxType.INT64, BATCH, SEQ);
        for (int k = 0; k < c.layers(); k++) {
            g.input(RecurrentIo.pastHidden(k), OnnxType.FLOAT, 1L, BATCH, h);
        }
        String pastKeys = g.input(RecurrentIo.PAST_KEYS, OnnxType.FLOAT, BATCH, PAST, a);
        String pastOutputs = g.input(RecurrentIo.PAST_OUTPUTS, OnnxType.FLOAT, BATCH, PAST, h);

        // [batch, seq, E] embeddings, then time-major [seq, batch, E] as GRU reads them.
        String embedded = g.node("Gather", "embed/out", List.of(weights.weight(t.get(Role.EMBEDDING).name()), ids),
                attr("axis", 0L));
        String x = g.node("Transpose", "embed/time_major", embedded, attr("perm", new long[] {1, 0, 2}));
        for (int k = 0; k < c.layers(); k++) {
            x = gru(k, x);
        }
        String outputs = g.node("Transpose", "gru/outputs", x, attr("perm", new long[] {1, 0, 2}));

        // Additive attention over the past and new outputs, causal: new token i (index past + i) sees s <= past + i.
        String rows = g.node("Shape", "shape/batch_seq", ids);
        String rowsShapeA = g.node("Concat", "shape/bs_attention", List.of(rows, g.ints("const/attention_dim", a)),
                attr("axis", 0L));
        String flatOutputs = g.node("Reshape", "attention/flat_outputs", List.of(outputs, g.ints("const/rows_hidden", -1, h)));
        String q = g.node("Reshape", "attention/query", List.of(
                weights.linear("attention/query_proj", flatOutputs, t.get(Role.QUERY), null, axis0), rowsShapeA));
        String kNew = g.node("Reshape", "attention/key", List.of(
                weights.linear("attention/key_proj", flatOutputs, t.get(Role.KEY), null, axis0), rowsShapeA));
        String keys = g.node("Concat", RecurrentIo.PRESENT_KEYS, List.of(pastKeys, kNew), attr("axis", 1L));
        String values = g.node("Concat", RecurrentIo.PRESENT_OUTPUTS, List.of(pastOutputs, outputs), attr("axis", 1L));
        String sum = g.node("Add", "attention/q_plus_k", List.of(g.node("Unsqueeze", "attention/q4", List.of(q, axis2)),
                g.node("Unsqueeze", "attention/k4", List.of(keys, axis1))));
        String energy = g.node("Transpose", "attention/energy_column", weights.weight(t.get(Role.ATTENTION_ENERGY).name()),
                attr("perm", new long[] {1, 0}));
        String scores4 = g.node("MatMul", "attention/scores4", List.of(g.node("Tanh", "attention/tanh", sum), energy));
        String scores = g.node("Squeeze", "attention/scores", List.of(scores4, g.ints("const/axis3", 3)));

        String seqLen = g.node("Gather", "shape/seq", List.of(rows, one), attr("axis", 0L));
        String totalLen = g.node("Gather", "shape/total", List.of(g.node("Shape", "shape/keys", keys), one), attr("axis", 0L));
        String pastLen = g.node("Sub", "shape/past", List.of(totalLen, seqLen));
        String keyIndex = g.node("Unsqueeze", "mask/key_row", List.of(g.node("Range", "mask/key_index", List.of(zero, totalLen, one)),
                axis0));
        String queryIndex = g.node("Unsqueeze", "mask/query_col", List.of(g.node("Range", "mask/query_index",
                List.of(pastLen, totalLen, one)), axis1));
        String allowed = g.node("LessOrEqual", "mask/causal", List.of(keyIndex, queryIndex));
        String bias = g.node("Where", "mask/bias", List.of(allowed, g.scalar("const/f0", 0f), g.scalar("const/lowest", -Float.MAX_VALUE)));
        String alpha = g.node("Softmax", "attention/alpha", g.node("Add", "attention/masked", List.of(scores, bias)),
                attr("axis", -1L));
        String context = g.node("MatMul", "attention/context", List.of(alpha, values));

        // logits = output [o_t, c_t] + bias, o_t first.
        String both = g.node("Concat", "head/input", List.of(outputs, context), attr("axis", 2L));
        String flatBoth = g.node("Reshape", "head/flat_input", List.of(both, g.ints("const/rows_two_hidden", -1, 2 * h)));
        String logits2d = weights.linear("lm_head", flatBoth, t.head(), t.get(Role.HEAD_BIAS), axis0);
        String bsv = g.node("Concat", "shape/bs_vocab", List.of(rows, g.ints("const/vocab", c.vocab())), attr("axis", 0L));
        g.node("Reshape", DecoderIo.LOGITS, List.of(logits2d, bsv));

        g.output(DecoderIo.LOGITS, OnnxType.FLOAT, BATCH, SEQ, (long) c.vocab());
        for (int k = 0; k < c.layers(); k++) {
            g.output(RecurrentIo.presentHidden(k), OnnxType.FLOAT, 1L, BATCH, h);
        }
        g.output(RecurrentIo.PRESENT_KEYS, OnnxType.FLOAT, BATCH, TOTAL, a);
        g.output(RecurrentIo.PRESENT_OUTPUTS, OnnxType.FLOAT, BATCH, TOTAL, h);
    }

    /** GRU layer {@code k} over the time-major input [seq, batch, in]: its outputs [seq, batch, hidden]. */
    private String gru(int k, String x) {
        String p = "gru." + k + "/";
        String w = g.node("Unsqueeze", p + "W", List.of(onnxGateOrder(p + "w", weights.weight(t.get(Role.RNN_INPUT, k).name()), 0),
                axis0));
        String r = g.node("Unsqueeze", p + "R", List.of(onnxGateOrder(p + "r", weights.weight(t.get(Role.RNN_HIDDEN, k).name()), 0),
                axis0));
        String wb = onnxGateOrder(p + "wb", weights.weight(t.get(Role.RNN_INPUT_BIAS, k).name()), 0);
        String rb = onnxGateOrder(p + "rb", weights.weight(t.get(Role.RNN_HIDDEN_BIAS, k).name()), 0);
        String b = g.node("Unsqueeze", p + "B", List.of(g.node("Concat", p + "bias", List.of(wb, rb), attr("axis", 0L)), axis0));
        String y = p + "Y";
        g.node("", "GRU", List.of(y, RecurrentIo.presentHidden(k)), List.of(x, w, r, b, "", RecurrentIo.pastHidden(k)),
                attr("hidden_size", (long) c.hidden()), attr("linear_before_reset", 1L));
        // Y is [seq, num_directions = 1, batch, hidden].
        return g.node("Squeeze", p + "out", List.of(y, g.ints(p + "directions", 1)));
    }

    /** PyTorch's gate blocks (r, z, n) along {@code axis} reordered as ONNX's (z, r, h). */
    private String onnxGateOrder(String name, String x, long axis) {
        List<String> parts = List.of(name + "/reset", name + "/update", name + "/new");
        long h = c.hidden();
        g.node("", "Split", parts, List.of(x, g.ints(name + "/split", h, h, h)), attr("axis", axis));
        return g.node("Concat", name + "/zrh", List.of(parts.get(1), parts.get(0), parts.get(2)), attr("axis", axis));
    }
}
