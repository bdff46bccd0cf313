package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.runtime.export.LlamaOnnxExporter.Flavour;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.LongToDoubleFunction;

/**
 * The decoder graph of a Llama model with a key/value cache: the skeleton every flavour shares (inputs,
 * embedding, projections, MLP, residual stream, outputs), with norms and attention left to the flavour. One
 * graph serves the prompt (sequence length > 1) and each decoding step (sequence length 1).
 *
 * <p>Hidden states flow as 2-D [batch * seq, hidden] so that every projection is a {@code Gemm} with
 * {@code transB = 1} on the weight exactly as Hugging Face stores it, [out, in]: the export copies weights
 * byte for byte, the runtime needs no Transpose (folded or not), and a tied embedding is one initializer
 * shared by Gather and the output projection. Activations are float32 whatever the weights' type.
 */
abstract class LlamaGraph {

    /** ONNX opset of the graph: ReduceMean still takes its axes as an attribute (an input from 18). */
    static final int OPSET = 17;
    /** IR version matching opset 17. */
    static final int IR_VERSION = 8;

    static final String BATCH = "batch_size";
    static final String SEQ = "sequence_length";
    static final String PAST = "past_sequence_length";
    static final String TOTAL = "total_sequence_length";

    /** An initializer the exporter computes (element by element, in row-major order) instead of copying it. */
    record Computed(TensorInfo info, LongToDoubleFunction element) {}

    /** The graph without the weights' data, the operator sets it imports, and the initializers to compute. */
    record Built(GraphProto.Builder graph, Map<String, Integer> opsets, List<Computed> computed) {}

    final LlamaConfig c;
    private final DType weightType;
    final GraphBuilder g = new GraphBuilder("arica_llama_decoder");
    private final Map<String, String> f32Weights = new HashMap<>();
    final Map<String, Integer> opsets = new LinkedHashMap<>(Map.of("", OPSET));
    final List<Computed> computed = new ArrayList<>();
    /** Small constants shared by all layers. */
    String one, zero, axis0, axis1, rowsShape;
    /** Symbolic shapes of this call: [batch, seq] of the new tokens, seq, past + seq, past. */
    String batchSeq, seqLen, totalLen, pastLen;

    LlamaGraph(LlamaConfig c, DType weightType) {
        this.c = c;
        this.weightType = weightType;
    }

    /** Weights are added as initializers named as in the checkpoint; {@link Built#computed} follow them. */
    static Built build(LlamaConfig c, DType weightType, Flavour flavour) {
        LlamaGraph l = switch (flavour) {
            case STANDARD -> new StandardLlamaGraph(c, weightType);
            case ORT_OPTIMIZED -> new OrtLlamaGraph(c, weightType);
        };
        l.decoder();
        return new Built(l.g.proto(), Map.copyOf(l.opsets), List.copyOf(l.computed));
    }

    /** Graph-wide values the layers use (rotary tables, attention mask), from the inputs. */
    abstract void prepare(String ids, String mask, String positions);

    /** RMSNorm of {@code x} [rows, hidden] scaled by the named weight. */
    abstract String norm(String name, String x, String weightName);

    /** {residual + delta, RMSNorm of that sum}: the residual stream's add followed by the next norm. */
    abstract String[] addNorm(String sumName, String normName, String residual, String delta, String weightName);

    /** Self-attention of layer {@code i} on the normed hidden states {@code h}, before the output projection. */
    abstract String attention(int i, String h);

    /** silu(x) = x * sigmoid(x). */
    abstract String silu(String name, String x);

    /** A weight as float32: itself, or a Cast of the f16 initializer (which ONNX Runtime folds on load). */
    final String weight(String name) {
        if (weightType == DType.F32) {
            return name;
        }
        return f32Weights.computeIfAbsent(name, n -> g.node("Cast", n + "/f32", n, attr("to", OnnxType.FLOAT.code())));
    }

    /** An initializer computed at export, [rows, cols] float32, named {@code name}. */
    final String computed(String name, long rows, long cols, LongToDoubleFunction element) {
        g.reserve(name);
        computed.add(new Computed(new TensorInfo(name, DType.F32, new long[] {rows, cols}), element));
        return name;
    }

    private void decoder() {
        for (String w : c.weightShapes().keySet()) {
            g.reserve(w);
        }
        one = g.scalar("const/one", 1L);
        zero = g.scalar("const/zero", 0L);
        axis0 = g.ints("const/axis0", 0);
        axis1 = g.ints("const/axis1", 1);
        rowsShape = g.ints("const/rows_shape", -1, (long) c.heads() * c.headDim());
        int d = c.headDim();
        String ids = g.input(DecoderIo.INPUT_IDS, OnnxType.INT64, BATCH, SEQ);
        String mask = g.input(DecoderIo.ATTENTION_MASK, OnnxType.INT64, BATCH, TOTAL);
        String positions = g.input(DecoderIo.POSITION_IDS, OnnxType.INT64, BATCH, SEQ);
        for (int i = 0; i < c.layers(); i++) {
            g.input(DecoderIo.pastKey(i), OnnxType.FLOAT, BATCH, (long) c.kvHeads(), PAST, (long) d);
            g.input(DecoderIo.pastValue(i), OnnxType.FLOAT, BATCH, (long) c.kvHeads(), PAST, (long) d);
        }
        batchSeq = g.node("Shape", "shape/batch_seq", ids);
        seqLen = g.node("Gather", "shape/seq", List.of(batchSeq, one), attr("axis", 0L));
        totalLen = g.node("Gather", "shape/total", List.of(g.node("Shape", "shape/mask", mask), one), attr("axis", 0L));
        pastLen = g.node("Sub", "shape/past", List.of(totalLen, seqLen));
        prepare(ids, mask, positions);

        String flatIds = g.node("Reshape", "embed/ids", List.of(ids, g.ints("const/flat", -1)));
        String x = g.node("Gather", "embed/out", List.of(weight(LlamaConfig.EMBED), flatIds), attr("axis", 0L));
        String h = norm("layers.0/input_norm", x, LlamaConfig.layer(0, "input_layernorm"));
        for (int i = 0; i < c.layers(); i++) {
            String p = "layers." + i + "/";
            String attn = linear(p + "o_proj", attention(i, h), weight(LlamaConfig.layer(i, "self_attn.o_proj")));
            String[] post = addNorm(p + "attn_residual", p + "post_attention_norm", x, attn,
                    LlamaConfig.layer(i, "post_attention_layernorm"));
            String gate = linear(p + "gate_proj", post[1], weight(LlamaConfig.layer(i, "mlp.gate_proj")));
            String up = linear(p + "up_proj", post[1], weight(LlamaConfig.layer(i, "mlp.up_proj")));
            String act = g.node("Mul", p + "swiglu", List.of(silu(p + "silu", gate), up));
            String down = linear(p + "down_proj", act, weight(LlamaConfig.layer(i, "mlp.down_proj")));
            boolean last = i == c.layers() - 1;
            String[] next = addNorm(p + "mlp_residual", last ? "final_norm" : "layers." + (i + 1) + "/input_norm",
                    post[0], down, last ? LlamaConfig.FINAL_NORM : LlamaConfig.layer(i + 1, "input_layernorm"));
            x = next[0];
            h = next[1];
        }
        String head = weight(c.tied() ? LlamaConfig.EMBED : LlamaConfig.LM_HEAD);
        String logits2d = linear("lm_head", h, head);
        String bsv = g.node("Concat", "shape/bs_vocab", List.of(batchSeq, g.ints("const/vocab", c.vocab())), attr("axis", 0L));
        g.node("Reshape", DecoderIo.LOGITS, List.of(logits2d, bsv));
        g.output(DecoderIo.LOGITS, OnnxType.FLOAT, BATCH, SEQ, (long) c.vocab());
        for (int i = 0; i < c.layers(); i++) {
            g.output(DecoderIo.presentKey(i), OnnxType.FLOAT, BATCH, (long) c.kvHeads(), TOTAL, (long) d);
            g.output(DecoderIo.presentValue(i), OnnxType.FLOAT, BATCH, (long) c.kvHeads(), TOTAL, (long) d);
        }
    }

    /** Layer {@code i}'s query, key and value projections of {@code h}: [rows, heads * d], [rows, kv_heads * d] twice. */
    final String[] queryKeyValue(int i, String h) {
        String p = "layers." + i + "/";
        return new String[] {linear(p + "q_proj", h, weight(LlamaConfig.layer(i, "self_attn.q_proj"))),
                linear(p + "k_proj", h, weight(LlamaConfig.layer(i, "self_attn.k_proj"))),
                linear(p + "v_proj", h, weight(LlamaConfig.layer(i, "self_attn.v_proj")))};
    }

    /** x @ W^T for x [rows, in] and W [out, in] as stored. */
    final String linear(String name, String x, String w) {
        return g.node("Gemm", name, List.of(x, w), attr("transB", 1L));
    }

    /** inv_freq[j] = 1 / theta^(2j / head_dim), j < head_dim / 2: computed in double, used as float32. */
    final float[] inverseFrequencies() {
        float[] inv = new float[c.headDim() / 2];
        for (int j = 0; j < inv.length; j++) {
            inv[j] = (float) (1.0 / Math.pow(c.ropeTheta(), 2.0 * j / c.headDim()));
        }
        return inv;
    }

    /**
     * Additive attention bias, [batch, seq, total]: 0 where query i (cache index past + i) may see key j, that
     * is j <= past + i and attention_mask[j] = 1, else float32's lowest value (not -inf, so a fully masked row,
     * such as a padding query, stays finite).
     */
    final String attentionBias(String mask) {
        String keys = g.node("Range", "mask/key_index", List.of(zero, totalLen, one));
        String queries = g.node("Range", "mask/query_index", List.of(pastLen, totalLen, one));
        String causal = g.node("LessOrEqual", "mask/causal", List.of(
                g.node("Unsqueeze", "mask/key_row", List.of(keys, axis0)),
                g.node("Unsqueeze", "mask/query_col", List.of(queries, axis1))));
        String valid = g.node("Cast", "mask/valid", mask, attr("to", OnnxType.BOOL.code()));
        String valid3 = g.node("Unsqueeze", "mask/valid3", List.of(valid, axis1));
        String allowed = g.node("And", "mask/allowed", List.of(causal, valid3));
        return g.node("Where", "mask/bias3", List.of(allowed, g.scalar("const/f0", 0f),
                g.scalar("const/lowest", -Float.MAX_VALUE)));
    }
}
