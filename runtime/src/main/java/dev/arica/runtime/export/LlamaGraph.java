package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.runtime.export.LlamaOnnxExporter.Flavour;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
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

    /** A weight stored quantized: rows n (output features) of k columns (input features). */
    record QuantizedWeight(String name, QuantLayout layout, long n, long k) {}

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

    /** Which plane of a quantized weight an initializer holds, and in which layout. */
    enum PlaneKind { NBITS_CODES, NBITS_SCALES, NBITS_ZERO_POINTS, DQ_CODES, DQ_SCALES, DQ_ZERO_POINTS }

    /** An initializer repacked from a quantized weight's stored bytes. */
    record Plane(QuantizedWeight weight, PlaneKind kind, OnnxWriter.Initializer initializer) {}

    /**
     * The graph without the weights' data, the operator sets it imports, the checkpoint weights it reads as
     * floats, the initializers to compute, and those repacked from quantized weights.
     */
    record Built(GraphProto.Builder graph, Map<String, Integer> opsets, Set<String> floatWeights,
            List<Computed> computed, List<Plane> planes) {
        int irVersion() {
            return opsets.get("") >= QUANTIZED_OPSET ? QUANTIZED_IR_VERSION : IR_VERSION;
        }
    }

    final LlamaConfig c;
    private final DType weightType;
    private final Quantization quantization;
    final GraphBuilder g = new GraphBuilder("arica_llama_decoder");
    private final Map<String, String> f32Weights = new HashMap<>();
    private final Set<String> floatWeights = new LinkedHashSet<>();
    private final Map<String, String[]> quantizedInputs = new HashMap<>();
    private final List<Plane> planes = new ArrayList<>();
    final Map<String, Integer> opsets = new LinkedHashMap<>();
    final List<Computed> computed = new ArrayList<>();
    /** The default-domain opset this graph is written for. */
    final int opset;
    /** Small constants shared by all layers. */
    String one, zero, axis0, axis1, rowsShape;
    /** Symbolic shapes of this call: [batch, seq] of the new tokens, seq, past + seq, past. */
    String batchSeq, seqLen, totalLen, pastLen;

    LlamaGraph(LlamaConfig c, DType weightType, Quantization quantization) {
        this.c = c;
        this.weightType = weightType;
        this.quantization = quantization;
        this.opset = quantization.portable() && !quantization.weights().isEmpty() ? QUANTIZED_OPSET : OPSET;
        opsets.put("", opset);
    }

    /**
     * Float weights are added as initializers named as in the checkpoint (those of {@link Built#floatWeights});
     * {@link Built#computed} and {@link Built#planes} follow them.
     */
    static Built build(LlamaConfig c, DType weightType, Flavour flavour, Quantization quantization) {
        LlamaGraph l = switch (flavour) {
            case STANDARD -> new StandardLlamaGraph(c, weightType, quantization);
            case ORT_OPTIMIZED -> new OrtLlamaGraph(c, weightType, quantization);
        };
        l.decoder();
        return new Built(l.g.proto(), Map.copyOf(l.opsets), Set.copyOf(l.floatWeights), List.copyOf(l.computed),
                List.copyOf(l.planes));
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
        floatWeights.add(name);
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
            String attn = linear(p + "o_proj", attention(i, h), LlamaConfig.layer(i, "self_attn.o_proj"));
            String[] post = addNorm(p + "attn_residual", p + "post_attention_norm", x, attn,
                    LlamaConfig.layer(i, "post_attention_layernorm"));
            String gate = linear(p + "gate_proj", post[1], LlamaConfig.layer(i, "mlp.gate_proj"));
            String up = linear(p + "up_proj", post[1], LlamaConfig.layer(i, "mlp.up_proj"));
            String act = g.node("Mul", p + "swiglu", List.of(silu(p + "silu", gate), up));
            String down = linear(p + "down_proj", act, LlamaConfig.layer(i, "mlp.down_proj"));
            boolean last = i == c.layers() - 1;
            String[] next = addNorm(p + "mlp_residual", last ? "final_norm" : "layers." + (i + 1) + "/input_norm",
                    post[0], down, last ? LlamaConfig.FINAL_NORM : LlamaConfig.layer(i + 1, "input_layernorm"));
            x = next[0];
            h = next[1];
        }
        String logits2d = linear("lm_head", h, c.tied() ? LlamaConfig.EMBED : LlamaConfig.LM_HEAD);
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
        return new String[] {linear(p + "q_proj", h, LlamaConfig.layer(i, "self_attn.q_proj")),
                linear(p + "k_proj", h, LlamaConfig.layer(i, "self_attn.k_proj")),
                linear(p + "v_proj", h, LlamaConfig.layer(i, "self_attn.v_proj"))};
    }

    /**
     * x @ W^T for x [rows, in] and the checkpoint weight W [out, in]: a Gemm on the float weight as stored, or
     * for a quantized weight MatMulNBits on its repacked planes (DequantizeLinear + MatMul when portable).
     */
    final String linear(String name, String x, String weightName) {
        QuantizedWeight q = quantization.weights().get(weightName);
        if (q == null) {
            return g.node("Gemm", name, List.of(x, weight(weightName)), attr("transB", 1L));
        }
        return quantization.portable() ? dequantizeMatMul(name, x, q) : matMulNBits(name, x, q);
    }

    private String matMulNBits(String name, String x, QuantizedWeight q) {
        String[] in = quantizedInputs.computeIfAbsent(q.name(), n -> {
            MatMulNBitsWeights w = new MatMulNBitsWeights(q.layout(), q.n(), q.k());
            String codes = plane(q, PlaneKind.NBITS_CODES, OnnxWriter.Initializer.of(w.codes(n + ".MatMulNBits.B")));
            String scales = plane(q, PlaneKind.NBITS_SCALES, OnnxWriter.Initializer.of(w.scales(n + ".MatMulNBits.scales")));
            List<String> inputs = new ArrayList<>(List.of(codes, f32(scales)));
            if (w.hasZeroPoints()) {
                inputs.add(plane(q, PlaneKind.NBITS_ZERO_POINTS, OnnxWriter.Initializer.of(w.zeroPoints(n + ".MatMulNBits.zero_points"))));
            }
            return inputs.toArray(String[]::new);
        });
        opsets.put(MS_DOMAIN, 1);
        List<String> inputs = new ArrayList<>(List.of(x));
        inputs.addAll(List.of(in));
        g.node(MS_DOMAIN, "MatMulNBits", List.of(name), inputs, attr("K", q.k()), attr("N", q.n()),
                attr("bits", (long) q.layout().bits()), attr("block_size", (long) q.layout().groupSize()),
                attr("accuracy_level", (long) quantization.accuracyLevel()));
        return name;
    }

    private String dequantizeMatMul(String name, String x, QuantizedWeight q) {
        String[] in = quantizedInputs.computeIfAbsent(q.name(), n -> {
            DequantizeLinearWeights w = new DequantizeLinearWeights(q.layout(), q.n(), q.k());
            List<String> inputs = new ArrayList<>(List.of(plane(q, PlaneKind.DQ_CODES, w.codes(n + ".quantized")),
                    f32(plane(q, PlaneKind.DQ_SCALES, w.scales(n + ".scales")))));
            if (q.layout().asymmetric()) {
                inputs.add(plane(q, PlaneKind.DQ_ZERO_POINTS, w.zeroPoints(n + ".zero_points")));
            }
            String weight = g.node("DequantizeLinear", n + "/dequantized", inputs, attr("axis", 0L),
                    attr("block_size", (long) q.layout().groupSize()));
            if (w.paddedK() != q.k()) {
                weight = g.node("Slice", n + "/unpadded", List.of(weight, g.ints(n + "/slice_start", 0),
                        g.ints(n + "/slice_end", q.k()), axis0));
            }
            return new String[] {weight};
        });
        return g.node("MatMul", name, List.of(x, in[0]));
    }

    /** Declares an initializer repacked from a quantized weight. */
    private String plane(QuantizedWeight q, PlaneKind kind, OnnxWriter.Initializer init) {
        g.reserve(init.name());
        planes.add(new Plane(q, kind, init));
        return init.name();
    }

    /** fp16 scales as float32, the activations' type (ONNX Runtime folds the Cast when it loads the model). */
    private String f32(String f16) {
        return g.node("Cast", f16 + "/f32", f16, attr("to", OnnxType.FLOAT.code()));
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
