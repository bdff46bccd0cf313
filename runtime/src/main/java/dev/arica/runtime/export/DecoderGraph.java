package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.model.DecoderConfig;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.model.Orientation;
import dev.arica.formats.model.QkvLayout;
import dev.arica.formats.model.Role;
import dev.arica.formats.model.TensorSpec;
import dev.arica.formats.model.TensorTable;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.runtime.export.OnnxExporter.Flavour;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.LongToDoubleFunction;

/**
 * The decoder graph of a described model with a key/value cache: the skeleton every family and flavour shares
 * (inputs, embedding, the residual stream through one {@link Block} per layer, head, outputs) and the operations
 * blocks are made of (projections by orientation, float or quantized; the query/key/value projections; the MLP),
 * with norms, activations and attention left to the flavour. One graph serves the prompt (sequence length > 1) and
 * each decoding step (sequence length 1).
 *
 * <p>Hidden states flow as 2-D [batch * seq, hidden] so that every projection is a {@code Gemm} on the weight
 * exactly as the checkpoint stores it ({@code transB = 1} for [out, in], 0 for Conv1D's [in, out]): the export
 * copies weights byte for byte, the runtime needs no Transpose (folded or not), and a tied embedding is one
 * initializer shared by Gather and the output projection. Activations are float32 whatever the weights' type.
 */
abstract class DecoderGraph {

    /** ONNX opset of the graph: ReduceMean still takes its axes as an attribute (an input from 18). */
    static final int OPSET = 17;
    /** IR version matching opset 17. */
    static final int IR_VERSION = 8;
    /** Opset of a portable quantized graph: DequantizeLinear takes block_size from 21. */
    static final int QUANTIZED_OPSET = 21;
    /** IR version matching opset 21 (int4 and uint4 tensors). */
    static final int QUANTIZED_IR_VERSION = 10;
    /** ONNX Runtime's contrib operator domain. */
    static final String MS_DOMAIN = "com.microsoft";

    static final String BATCH = "batch_size";
    static final String SEQ = "sequence_length";
    static final String PAST = "past_sequence_length";
    static final String TOTAL = "total_sequence_length";

    /** An initializer the exporter computes (element by element, in row-major order) instead of copying it. */
    record Computed(TensorInfo info, LongToDoubleFunction element) {}

    /**
     * A weight stored quantized: rows n (output features) of k columns (input features); {@code permuted} when the
     * columns are stored in another order (its column order, a plane of the graph, gathers the activations to match).
     */
    record QuantizedWeight(String name, QuantLayout layout, long n, long k, boolean permuted) {
        /** "int4 g32 asym", with " permuted" when the columns are. */
        String describe() {
            return layout.describe() + (permuted ? " permuted" : "");
        }
    }

    /**
     * How quantized weights enter the graph.
     *
     * @param weights the quantized weights by checkpoint name (empty for a float checkpoint)
     * @param portable standard DequantizeLinear + MatMul (opset 21) instead of ONNX Runtime's MatMulNBits
     * @param accuracyLevel MatMulNBits' accuracy_level: 0 computes in float32, 4 lets ONNX Runtime quantize the
     *     activations to int8 (faster, not bit-identical)
     */
    record Quantization(Map<String, QuantizedWeight> weights, boolean portable, int accuracyLevel) {
        static final Quantization NONE = new Quantization(Map.of(), false, 0);
    }

    /** A LoRA adapter's branch on one projection: its factors A [r, in] and B [out, r] by initializer name. */
    record LoraBranch(String a, String b, double scaling) {}

    /**
     * Which plane of a quantized weight an initializer holds, and in which layout; CHANNEL_* (int8 per output
     * channel, {@link ChannelInt8Weights}) only in ONNX models quantized by {@link OnnxQuantizer}.
     */
    enum PlaneKind {
        NBITS_CODES, NBITS_SCALES, NBITS_ZERO_POINTS, DQ_CODES, DQ_SCALES, DQ_ZERO_POINTS, COLUMN_ORDER,
        /** Codes [K, N]. */
        CHANNEL_COLUMNS,
        /** Codes [N, K]. */
        CHANNEL_ROWS,
        CHANNEL_SCALES
    }

    /** An initializer repacked from a quantized weight's stored bytes. */
    record Plane(QuantizedWeight weight, PlaneKind kind, OnnxWriter.Initializer initializer) {}

    /**
     * The graph without the weights' data, the operator sets it imports, the checkpoint weights it reads as
     * floats, the initializers to compute, and those repacked from quantized weights.
     */
    record Built(GraphProto.Builder graph, Map<String, Integer> opsets, Set<String> floatWeights,
            List<Computed> computed, List<Plane> planes, List<LinearInputs.Input> linearInputs) {
        int irVersion() {
            return opsets.get("") >= QUANTIZED_OPSET ? QUANTIZED_IR_VERSION : IR_VERSION;
        }
    }

    final DecoderConfig c;
    final TensorTable t;
    final GraphBuilder g = new GraphBuilder("arica_llama_decoder");
    private final GraphWeights weights;
    private final Map<String, String> offsetWeights = new HashMap<>();
    final Map<String, Integer> opsets;
    /** The default-domain opset this graph is written for. */
    final int opset;
    /** Small constants shared by all layers. */
    String one, zero, axis0, axis1, rowsShape;
    /** Symbolic shapes of this call: [batch, seq] of the new tokens, seq, past + seq, past. */
    String batchSeq, seqLen, totalLen, pastLen;

    DecoderGraph(ModelDescription m, DType weightType, Quantization quantization, Map<String, LoraBranch> branches) {
        this.c = m.decoder();
        this.t = m.tensors();
        this.weights = new GraphWeights(g, weightType, quantization, branches);
        this.opsets = weights.opsets;
        this.opset = weights.opset;
    }

    /**
     * Float weights are added as initializers named as in the checkpoint (those of {@link Built#floatWeights});
     * {@link Built#computed} and {@link Built#planes} follow them.
     */
    static Built build(ModelDescription m, DType weightType, Flavour flavour, Quantization quantization,
            Map<String, LoraBranch> branches) {
        DecoderGraph l = switch (flavour) {
            case STANDARD -> new StandardGraph(m, weightType, quantization, branches);
            case ORT_OPTIMIZED -> new OrtGraph(m, weightType, quantization, branches);
        };
        l.decoder(Block.of(m));
        return l.weights.built();
    }

    /** A norm's weight and, for LayerNorm, its bias (null otherwise). */
    record Norm(TensorSpec weight, TensorSpec bias) {}

    /** The norm of {@code role} in layer {@code layer} (-1 for the final norm). */
    final Norm norm(Role role, int layer) {
        Role bias = switch (role) {
            case ATTENTION_NORM -> Role.ATTENTION_NORM_BIAS;
            case MLP_NORM -> Role.MLP_NORM_BIAS;
            case FINAL_NORM -> Role.FINAL_NORM_BIAS;
            default -> null;
        };
        return new Norm(t.get(role, layer), bias == null ? null : t.find(bias, layer).orElse(null));
    }

    /** Graph-wide values the layers use (rotary tables, attention mask), from the inputs. */
    abstract void prepare(String ids, String mask, String positions);

    /** The norm ({@link DecoderConfig#norm}) of {@code x} [rows, hidden]. */
    abstract String norm(String name, String x, Norm norm);

    /** {residual + delta, the norm of that sum}: the residual stream's add followed by the next norm. */
    abstract String[] addNorm(String sumName, String normName, String residual, String delta, Norm norm);

    /**
     * Self-attention of layer {@code i} on its projections q [rows, heads * d] and k, v [rows, kv_heads * d], before
     * the output projection: rotary positions, the cache, scale, soft-cap, causal (and sliding-window) mask.
     */
    abstract String attention(int i, String q, String k, String v);

    /** The model's activation ({@link DecoderConfig#activation}) of x. */
    abstract String activation(String name, String x);

    /** A weight as float32: itself, or a Cast of the f16 initializer (which ONNX Runtime folds on load). */
    final String weight(String name) {
        return weights.weight(name);
    }

    /** A norm weight as the norm multiplies by it: w, or Gemma's 1 + w (folded by ONNX Runtime on load). */
    final String normWeight(TensorSpec w) {
        String f32 = weight(w.name());
        if (c.norm() != DecoderConfig.Norm.RMS_OFFSET) {
            return f32;
        }
        return offsetWeights.computeIfAbsent(f32, n -> g.node("Add", w.name() + "/plus_one",
                List.of(n, g.scalar(w.name() + "/one", 1f))));
    }

    /** An initializer computed at export, [rows, cols] float32, named {@code name}. */
    final String computed(String name, long rows, long cols, LongToDoubleFunction element) {
        return weights.computed(name, rows, cols, element);
    }

    private void decoder(Block block) {
        for (TensorSpec w : t.specs()) {
            g.reserve(w.name());
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

        String flat = g.ints("const/flat", -1);
        String flatIds = g.node("Reshape", "embed/ids", List.of(ids, flat));
        String x = g.node("Gather", "embed/out", List.of(weight(t.get(Role.EMBEDDING).name()), flatIds), attr("axis", 0L));
        if (c.positions() == DecoderConfig.Positions.LEARNED) {
            String flatPositions = g.node("Reshape", "embed/positions", List.of(positions, flat));
            String p = g.node("Gather", "embed/position_out", List.of(weight(t.get(Role.POSITION_EMBEDDING).name()),
                    flatPositions), attr("axis", 0L));
            x = g.node("Add", "embed/with_positions", List.of(x, p));
        }
        if (c.embeddingScale() != 1) {
            // Gemma: the normaliser is rounded to the activations' type (float32) before the multiply.
            x = g.node("Mul", "embed/scaled", List.of(x, g.scalar("const/embed_scale", (float) c.embeddingScale())));
        }
        String h = norm("layers.0/input_norm", x, norm(Role.ATTENTION_NORM, 0));
        for (int i = 0; i < c.layers(); i++) {
            boolean last = i == c.layers() - 1;
            String[] next = block.layer(this, i, x, h, last ? "final_norm" : "layers." + (i + 1) + "/input_norm",
                    last ? norm(Role.FINAL_NORM, -1) : norm(Role.ATTENTION_NORM, i + 1));
            x = next[0];
            h = next[1];
        }
        String logits2d = linear("lm_head", h, t.head(), null);
        if (c.finalSoftCap() > 0) {
            logits2d = softCap("lm_head/softcap", logits2d, c.finalSoftCap());
        }
        String bsv = g.node("Concat", "shape/bs_vocab", List.of(batchSeq, g.ints("const/vocab", c.vocab())), attr("axis", 0L));
        g.node("Reshape", DecoderIo.LOGITS, List.of(logits2d, bsv));
        g.output(DecoderIo.LOGITS, OnnxType.FLOAT, BATCH, SEQ, (long) c.vocab());
        for (int i = 0; i < c.layers(); i++) {
            g.output(DecoderIo.presentKey(i), OnnxType.FLOAT, BATCH, (long) c.kvHeads(), TOTAL, (long) d);
            g.output(DecoderIo.presentValue(i), OnnxType.FLOAT, BATCH, (long) c.kvHeads(), TOTAL, (long) d);
        }
    }

    /** tanh(x / cap) * cap. */
    final String softCap(String name, String x, double cap) {
        String capped = g.scalar(name + "/cap", (float) cap);
        String tanh = g.node("Tanh", name + "/tanh", g.node("Div", name + "/div", List.of(x, capped)));
        return g.node("Mul", name, List.of(tanh, capped));
    }

    /**
     * Layer {@code i}'s query, key and value projections of {@code h}: [rows, heads * d], [rows, kv_heads * d] twice;
     * from a fused projection (GPT-2, Falcon) split as its {@link QkvLayout} says.
     */
    final String[] queryKeyValue(int i, String h) {
        String p = "layers." + i + "/";
        Optional<TensorSpec> fused = t.find(Role.QKV, i);
        if (fused.isEmpty()) {
            return new String[] {linear(p + "q_proj", h, t.get(Role.QUERY, i), null),
                    linear(p + "k_proj", h, t.get(Role.KEY, i), null),
                    linear(p + "v_proj", h, t.get(Role.VALUE, i), null)};
        }
        QkvLayout l = t.qkv().orElseThrow();
        String all = linear(p + "qkv_proj", h, fused.get(), t.find(Role.QKV_BIAS, i).orElse(null));
        String grouped = g.node("Reshape", p + "qkv_groups", List.of(all, g.ints(p + "qkv_groups_shape", -1, l.groups(),
                l.queries() + 2L * l.keyValues(), l.headDim())));
        List<String> parts = List.of(p + "q_split", p + "k_split", p + "v_split");
        g.node("", "Split", parts, List.of(grouped, g.ints(p + "qkv_split", l.queries(), l.keyValues(), l.keyValues())),
                attr("axis", 2L));
        String flatRows = g.ints(p + "qkv_rows_shape", 0, -1);
        return new String[] {g.node("Reshape", p + "q", List.of(parts.get(0), flatRows)),
                g.node("Reshape", p + "k", List.of(parts.get(1), flatRows)),
                g.node("Reshape", p + "v", List.of(parts.get(2), flatRows))};
    }

    /** The MLP of layer {@code i} on {@code h}: down(act(gate h) * up h), or down(act(up h)), with biases where stored. */
    final String mlp(String p, int i, String h) {
        if (c.mlp() == DecoderConfig.Mlp.GATED) {
            String gate = linear(p + "gate_proj", h, t.get(Role.GATE, i), null);
            String up = linear(p + "up_proj", h, t.get(Role.UP, i), null);
            boolean silu = c.activation() == DecoderConfig.Activation.SILU;
            String act = g.node("Mul", p + (silu ? "swiglu" : "geglu"), List.of(activation(p + (silu ? "silu" : "gelu"), gate), up));
            return linear(p + "down_proj", act, t.get(Role.DOWN, i), null);
        }
        String up = linear(p + "fc_in", h, t.get(Role.UP, i), t.find(Role.UP_BIAS, i).orElse(null));
        return linear(p + "fc_out", activation(p + "gelu", up), t.get(Role.DOWN, i), t.find(Role.DOWN_BIAS, i).orElse(null));
    }

    /** The output projection of the attention's context. */
    final String attentionOutput(String p, int i, String context) {
        return linear(p + "o_proj", context, t.get(Role.ATTENTION_OUTPUT, i), t.find(Role.ATTENTION_OUTPUT_BIAS, i).orElse(null));
    }

    /** x W^T + b for the checkpoint weight W as {@link GraphWeights#linear} makes it; {@code bias} may be null. */
    final String linear(String name, String x, TensorSpec w, TensorSpec bias) {
        return weights.linear(name, x, w, bias, axis0);
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
     * is j <= past + i and attention_mask[j] = 1 (and, with a sliding {@code window} > 0, j > past + i - window),
     * else float32's lowest value (not -inf, so a fully masked row, such as a padding query, stays finite).
     * Node names start with {@code prefix}.
     */
    final String attentionBias(String prefix, String mask, int window) {
        String p = prefix + "/";
        String keys = g.node("Range", p + "key_index", List.of(zero, totalLen, one));
        String queries = g.node("Range", p + "query_index", List.of(pastLen, totalLen, one));
        String keyRow = g.node("Unsqueeze", p + "key_row", List.of(keys, axis0));
        String queryCol = g.node("Unsqueeze", p + "query_col", List.of(queries, axis1));
        String causal = g.node("LessOrEqual", p + "causal", List.of(keyRow, queryCol));
        if (window > 0) {
            String oldest = g.node("Sub", p + "oldest", List.of(queryCol, g.scalar(p + "window", (long) window)));
            causal = g.node("And", p + "in_window", List.of(causal, g.node("Greater", p + "recent", List.of(keyRow, oldest))));
        }
        String valid = g.node("Cast", p + "valid", mask, attr("to", OnnxType.BOOL.code()));
        String valid3 = g.node("Unsqueeze", p + "valid3", List.of(valid, axis1));
        String allowed = g.node("And", p + "allowed", List.of(causal, valid3));
        return g.node("Where", p + "bias3", List.of(allowed, zeroFloat(), lowest()));
    }

    private String f0, lowest;

    private String zeroFloat() {
        if (f0 == null) {
            f0 = g.scalar("const/f0", 0f);
        }
        return f0;
    }

    private String lowest() {
        if (lowest == null) {
            lowest = g.scalar("const/lowest", -Float.MAX_VALUE);
        }
        return lowest;
    }
}
