package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.model.Orientation;
import dev.arica.formats.model.TensorSpec;
import dev.arica.formats.onnx.OnnxType;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongToDoubleFunction;

/**
 * The weights of a graph being built, whatever the model: float initializers named as in the checkpoint (f16 ones
 * cast to float32 inside the graph), projections float or quantized with their LoRA branches, initializers computed at
 * export, and the operator sets used. Every graph kind builds on it, so a projection is made one way everywhere.
 */
final class GraphWeights {
    final GraphBuilder g;
    private final DType weightType;
    private final DecoderGraph.Quantization quantization;
    private final Map<String, DecoderGraph.LoraBranch> branches;
    private final Map<String, String> f32Weights = new HashMap<>();
    private final Set<String> floatWeights = new LinkedHashSet<>();
    private final QuantizedProjections quantized;
    final Map<String, Integer> opsets = new LinkedHashMap<>();
    private final List<DecoderGraph.Computed> computed = new ArrayList<>();
    /** The graph value each projection multiplies, by value in the order met: what calibration measures. */
    private final Map<String, LinearInputs.Input> linearInputs = new LinkedHashMap<>();
    /** The default-domain opset this graph is written for. */
    final int opset;

    GraphWeights(GraphBuilder g, DType weightType, DecoderGraph.Quantization quantization,
            Map<String, DecoderGraph.LoraBranch> branches) {
        this.g = g;
        this.weightType = weightType;
        this.quantization = quantization;
        this.branches = branches;
        this.quantized = new QuantizedProjections(g, quantization, opsets);
        this.opset = quantization.portable() && !quantization.weights().isEmpty() ? DecoderGraph.QUANTIZED_OPSET
                : DecoderGraph.OPSET;
        opsets.put("", opset);
    }

    /** A weight as float32: itself, or a Cast of the f16 initializer (which ONNX Runtime folds on load). */
    String weight(String name) {
        floatWeights.add(name);
        if (weightType == DType.F32) {
            return name;
        }
        return f32Weights.computeIfAbsent(name, n -> g.node("Cast", n + "/f32", n, attr("to", OnnxType.FLOAT.code())));
    }

    /** An initializer computed at export, [rows, cols] float32, named {@code name}. */
    String computed(String name, long rows, long cols, LongToDoubleFunction element) {
        g.reserve(name);
        computed.add(new DecoderGraph.Computed(new TensorInfo(name, DType.F32, new long[] {rows, cols}), element));
        return name;
    }

    /**
     * x W^T + b for x [rows, in] and the checkpoint weight W ([out, in], or [in, out] for Conv1D): a Gemm on the float
     * weight as stored, or for a quantized weight MatMulNBits on its repacked planes (DequantizeLinear + MatMul when
     * portable), plus the adapter's low-rank branch when it adapts W; {@code bias} may be null; {@code axis0} is the
     * graph's [0] constant.
     */
    String linear(String name, String x, TensorSpec w, TensorSpec bias, String axis0) {
        linearInputs.computeIfAbsent(x, v -> new LinearInputs.Input(v, LinearInputs.layerOf(name),
                w.shape()[w.orientation() == Orientation.OUT_IN ? 1 : 0], new ArrayList<>())).weights().add(w.name());
        DecoderGraph.LoraBranch lora = branches.get(w.name());
        if (lora == null) {
            return projection(name, x, w, bias, axis0);
        }
        // y + scaling * (x A^T) B^T: the adapter's low-rank branch beside the base weight, as stored.
        String y = projection(name + "/base", x, w, bias, axis0);
        String xa = g.node("Gemm", name + "/lora_a", List.of(x, weight(lora.a())), attr("transB", 1L));
        return g.node("Gemm", name, List.of(xa, weight(lora.b()), y), attr("transB", 1L), attr("alpha", (float) lora.scaling()));
    }

    private String projection(String name, String x, TensorSpec w, TensorSpec bias, String axis0) {
        DecoderGraph.QuantizedWeight q = quantization.weights().get(w.name());
        if (q == null) {
            List<String> inputs = bias == null ? List.of(x, weight(w.name())) : List.of(x, weight(w.name()), weight(bias.name()));
            return g.node("Gemm", name, inputs, attr("transB", w.orientation() == Orientation.OUT_IN ? 1L : 0L));
        }
        String y = quantized.apply(bias == null ? name : name + "/matmul", x, q, axis0);
        return bias == null ? y : g.node("Add", name, List.of(y, weight(bias.name())));
    }

    /** Whether {@code name} is stored quantized (so the graph runs it through its planes, not as a float initializer). */
    boolean quantized(String name) {
        return quantization.weights().containsKey(name);
    }

    /** The graph and what the exporter writes for it. */
    DecoderGraph.Built built() {
        return new DecoderGraph.Built(g.proto(), Map.copyOf(opsets), Set.copyOf(floatWeights), List.copyOf(computed),
                quantized.planes(), List.copyOf(linearInputs.values()));
    }
}
