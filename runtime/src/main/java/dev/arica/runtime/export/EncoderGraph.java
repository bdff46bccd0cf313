package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import dev.arica.formats.DType;
import dev.arica.formats.model.EncoderConfig;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.model.Role;
import dev.arica.formats.model.TensorSpec;
import dev.arica.formats.model.TensorTable;
import dev.arica.formats.onnx.OnnxType;
import java.util.List;
import java.util.Map;

/**
 * The graph of a bidirectional encoder (BERT, RoBERTa), standard operators only: embeddings (word + position +
 * token type, then LayerNorm), post-LN blocks (LayerNorm(x + attention(x)), LayerNorm(x + mlp(x))) whose attention
 * sees every non-padding token, {@code last_hidden_state} and, with a masked-LM head, {@code logits}. Padding keys are
 * masked with float32's lowest value, so a padded batch gives its unpadded rows exactly as they are alone. Projections
 * are {@link GraphWeights}' (float Gemm, or quantized), as in every other graph.
 */
final class EncoderGraph {
    static final String BATCH = DecoderGraph.BATCH;
    static final String SEQ = DecoderGraph.SEQ;

    private final EncoderConfig c;
    private final TensorTable t;
    private final GraphBuilder g = new GraphBuilder("arica_encoder");
    private final GraphWeights weights;
    private final OnnxExporter.Flavour flavour;
    private String axis0, rowsHidden, bshd, bias, bsh, keyPadding;

    private EncoderGraph(ModelDescription m, DType weightType, OnnxExporter.Flavour flavour, DecoderGraph.Quantization quantization,
            Map<String, DecoderGraph.LoraBranch> branches) {
        this.flavour = flavour;
        this.c = (EncoderConfig) m.config();
        this.t = m.tensors();
        this.weights = new GraphWeights(g, weightType, quantization, branches);
    }

    static DecoderGraph.Built build(ModelDescription m, DType weightType, OnnxExporter.Flavour flavour,
            DecoderGraph.Quantization quantization, Map<String, DecoderGraph.LoraBranch> branches) {
        EncoderGraph e = new EncoderGraph(m, weightType, flavour, quantization, branches);
        e.graph();
        return e.weights.built();
    }

    /** Whether the model has a masked-LM head, and so a {@code logits} output. */
    static boolean hasHead(TensorTable t) {
        return t.find(Role.HEAD_BIAS, -1).isPresent();
    }

    private void graph() {
        for (TensorSpec w : t.specs()) {
            g.reserve(w.name());
        }
        long h = c.hidden();
        axis0 = g.ints("const/axis0", 0);
        String axis1 = g.ints("const/axis1", 1);
        String one = g.scalar("const/one", 1L);
        String ids = g.input(EncoderIo.INPUT_IDS, OnnxType.INT64, BATCH, SEQ);
        String mask = g.input(EncoderIo.ATTENTION_MASK, OnnxType.INT64, BATCH, SEQ);
        String types = c.tokenTypes() ? g.input(EncoderIo.TOKEN_TYPE_IDS, OnnxType.INT64, BATCH, SEQ) : null;
        String batchSeq = g.node("Shape", "shape/batch_seq", ids);
        rowsHidden = g.ints("const/rows_hidden", -1, h);
        bshd = g.node("Concat", "shape/bs_heads_dim", List.of(batchSeq, g.ints("const/heads_dim", c.heads(), c.headDim())),
                attr("axis", 0L));

        // Positions: 0..seq-1 (BERT), or RoBERTa's cumsum(ids != pad) * (ids != pad) + pad.
        String positions;
        if (c.paddingPositions() == null) {
            String seqLen = g.node("Gather", "shape/seq", List.of(batchSeq, one), attr("axis", 0L));
            positions = g.node("Unsqueeze", "embed/positions", List.of(g.node("Range", "embed/position_range",
                    List.of(g.scalar("const/zero", 0L), seqLen, one)), axis0));
        } else {
            String pad = g.scalar("const/pad", (long) c.paddingPositions());
            String real = g.node("Cast", "embed/not_pad", g.node("Not", "embed/not_pad_bool",
                    g.node("Equal", "embed/is_pad", List.of(ids, pad))), attr("to", OnnxType.INT64.code()));
            String counted = g.node("Mul", "embed/counted", List.of(g.node("CumSum", "embed/cumsum", List.of(real,
                    g.scalar("const/axis1_scalar", 1L))), real));
            positions = g.node("Add", "embed/positions", List.of(counted, pad));
        }
        String x = g.node("Gather", "embed/words", List.of(weights.weight(t.get(Role.EMBEDDING).name()), ids), attr("axis", 0L));
        x = g.node("Add", "embed/with_positions", List.of(x, g.node("Gather", "embed/position_rows",
                List.of(weights.weight(t.get(Role.POSITION_EMBEDDING).name()), positions), attr("axis", 0L))));
        // One segment (RoBERTa): its row is added to every token.
        String typeRows = types != null
                ? g.node("Gather", "embed/type_rows", List.of(weights.weight(t.get(Role.TOKEN_TYPE_EMBEDDING).name()), types),
                        attr("axis", 0L))
                : g.node("Gather", "embed/type_rows", List.of(weights.weight(t.get(Role.TOKEN_TYPE_EMBEDDING).name()),
                        g.scalar("const/type0", 0L)), attr("axis", 0L));
        x = g.node("Add", "embed/with_types", List.of(x, typeRows));
        String hidden = layerNorm("embed/norm", g.node("Reshape", "embed/rows", List.of(x, rowsHidden)),
                Role.EMBEDDING_NORM, Role.EMBEDDING_NORM_BIAS, -1);

        bsh = g.node("Concat", "shape/bs_hidden", List.of(batchSeq, g.ints("const/hidden", h)), attr("axis", 0L));
        if (fused()) {
            // MultiHeadAttention's key padding mask: [batch, seq] int32, 0 for padding.
            keyPadding = g.node("Cast", "mask/key_padding", mask, attr("to", OnnxType.INT32.code()));
            weights.opsets.put(DecoderGraph.MS_DOMAIN, 1);
        } else {
            // [batch, 1, 1, seq]: 0 for tokens, float32's lowest for padding keys.
            String valid = g.node("Cast", "mask/valid", mask, attr("to", OnnxType.BOOL.code()));
            String valid4 = g.node("Unsqueeze", "mask/valid4", List.of(valid, g.ints("const/axes12", 1, 2)));
            bias = g.node("Where", "mask/bias", List.of(valid4, g.scalar("const/f0", 0f),
                    g.scalar("const/lowest", -Float.MAX_VALUE)));
        }

        for (int i = 0; i < c.layers(); i++) {
            hidden = layer(i, hidden);
        }
        g.node("Reshape", EncoderIo.LAST_HIDDEN_STATE, List.of(hidden, bsh));
        g.output(EncoderIo.LAST_HIDDEN_STATE, OnnxType.FLOAT, BATCH, SEQ, h);
        if (hasHead(t)) {
            String transformed = activation("head/gelu",
                    weights.linear("head/dense", hidden, t.get(Role.HEAD_TRANSFORM), t.get(Role.HEAD_TRANSFORM_BIAS), axis0));
            String normed = layerNorm("head/norm", transformed, Role.HEAD_NORM, Role.HEAD_NORM_BIAS, -1);
            String logits2d = weights.linear("head/decoder", normed, t.head(), t.get(Role.HEAD_BIAS), axis0);
            String bsv = g.node("Concat", "shape/bs_vocab", List.of(batchSeq, g.ints("const/vocab", c.vocab())), attr("axis", 0L));
            g.node("Reshape", EncoderIo.LOGITS, List.of(logits2d, bsv));
            g.output(EncoderIo.LOGITS, OnnxType.FLOAT, BATCH, SEQ, (long) c.vocab());
        }
    }

    /** One post-LN block on rows [batch * seq, hidden]: ONNX Runtime's fused operators in that flavour. */
    private String layer(int i, String x) {
        if (fused()) {
            return fusedLayer(i, x);
        }
        String p = "layers." + i + "/";
        long[] toHeads = {0, 2, 1, 3};
        String q = heads(p + "q", weights.linear(p + "q_proj", x, t.get(Role.QUERY, i), t.get(Role.QUERY_BIAS, i), axis0), toHeads);
        String k = heads(p + "k", weights.linear(p + "k_proj", x, t.get(Role.KEY, i), t.get(Role.KEY_BIAS, i), axis0),
                new long[] {0, 2, 3, 1});
        String v = heads(p + "v", weights.linear(p + "v_proj", x, t.get(Role.VALUE, i), t.get(Role.VALUE_BIAS, i), axis0), toHeads);
        String scores = g.node("Mul", p + "scores_scaled", List.of(g.node("MatMul", p + "scores", List.of(q, k)),
                g.scalar(p + "scale", (float) (1 / Math.sqrt(c.headDim())))));
        String probs = g.node("Softmax", p + "probs", g.node("Add", p + "scores_masked", List.of(scores, bias)), attr("axis", -1L));
        String context = g.node("Reshape", p + "context", List.of(g.node("Transpose", p + "context_bshd",
                g.node("MatMul", p + "context_heads", List.of(probs, v)), attr("perm", toHeads)), rowsHidden));
        String attention = weights.linear(p + "o_proj", context, t.get(Role.ATTENTION_OUTPUT, i),
                t.get(Role.ATTENTION_OUTPUT_BIAS, i), axis0);
        String h = layerNorm(p + "attention_norm", g.node("Add", p + "attention_residual", List.of(x, attention)),
                Role.ATTENTION_RESIDUAL_NORM, Role.ATTENTION_RESIDUAL_NORM_BIAS, i);
        String up = activation(p + "gelu", weights.linear(p + "fc_in", h, t.get(Role.UP, i), t.get(Role.UP_BIAS, i), axis0));
        String down = weights.linear(p + "fc_out", up, t.get(Role.DOWN, i), t.get(Role.DOWN_BIAS, i), axis0);
        return layerNorm(p + "mlp_norm", g.node("Add", p + "mlp_residual", List.of(h, down)), Role.MLP_RESIDUAL_NORM,
                Role.MLP_RESIDUAL_NORM_BIAS, i);
    }

    private boolean fused() {
        return flavour == OnnxExporter.Flavour.ORT_OPTIMIZED;
    }

    /** MultiHeadAttention with the key padding mask, SkipLayerNormalization for each residual and norm, Gelu. */
    private String fusedLayer(int i, String x) {
        String p = "layers." + i + "/";
        String q = g.node("Reshape", p + "q", List.of(weights.linear(p + "q_proj", x, t.get(Role.QUERY, i),
                t.get(Role.QUERY_BIAS, i), axis0), bsh));
        String k = g.node("Reshape", p + "k", List.of(weights.linear(p + "k_proj", x, t.get(Role.KEY, i),
                t.get(Role.KEY_BIAS, i), axis0), bsh));
        String v = g.node("Reshape", p + "v", List.of(weights.linear(p + "v_proj", x, t.get(Role.VALUE, i),
                t.get(Role.VALUE_BIAS, i), axis0), bsh));
        g.node(DecoderGraph.MS_DOMAIN, "MultiHeadAttention", List.of(p + "attention_bsh"), List.of(q, k, v, "", keyPadding),
                attr("num_heads", (long) c.heads()));
        String context = g.node("Reshape", p + "context", List.of(p + "attention_bsh", rowsHidden));
        String attention = weights.linear(p + "o_proj", context, t.get(Role.ATTENTION_OUTPUT, i),
                t.get(Role.ATTENTION_OUTPUT_BIAS, i), axis0);
        String h = skipLayerNorm(p + "attention_norm", attention, x, Role.ATTENTION_RESIDUAL_NORM,
                Role.ATTENTION_RESIDUAL_NORM_BIAS, i);
        String up = activation(p + "gelu", weights.linear(p + "fc_in", h, t.get(Role.UP, i), t.get(Role.UP_BIAS, i), axis0));
        String down = weights.linear(p + "fc_out", up, t.get(Role.DOWN, i), t.get(Role.DOWN_BIAS, i), axis0);
        return skipLayerNorm(p + "mlp_norm", down, h, Role.MLP_RESIDUAL_NORM, Role.MLP_RESIDUAL_NORM_BIAS, i);
    }

    /** LayerNorm(residual + delta) in one com.microsoft SkipLayerNormalization. */
    private String skipLayerNorm(String name, String delta, String residual, Role weight, Role bias, int layer) {
        g.node(DecoderGraph.MS_DOMAIN, "SkipLayerNormalization", List.of(name), List.of(delta, residual,
                weights.weight(t.get(weight, layer).name()), weights.weight(t.get(bias, layer).name())),
                attr("epsilon", (float) c.normEps()));
        return name;
    }

    private String activation(String name, String x) {
        return fused() ? Activations.fused(g, c.activation(), name, x) : Activations.standard(g, c.activation(), name, x);
    }

    /** Rows [batch * seq, hidden] as [batch, heads, ...] in the order {@code perm} of [batch, seq, heads, head_dim]. */
    private String heads(String name, String rows, long[] perm) {
        return g.node("Transpose", name + "_heads", g.node("Reshape", name + "_bshd", List.of(rows, bshd)), attr("perm", perm));
    }

    private String layerNorm(String name, String x, Role weight, Role bias, int layer) {
        return g.node("LayerNormalization", name, List.of(x, weights.weight(t.get(weight, layer).name()),
                weights.weight(t.get(bias, layer).name())), attr("axis", -1L), attr("epsilon", (float) c.normEps()));
    }
}
