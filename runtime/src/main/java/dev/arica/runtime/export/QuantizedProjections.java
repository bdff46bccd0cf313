package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.OnnxWriter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The quantized projections of a graph: each weight's stored bytes repacked into planes (initializers the exporter
 * writes from the .arica file) and run by ONNX Runtime's MatMulNBits, or, portable, by DequantizeLinear + MatMul.
 * A weight used twice (a tied head) gets its planes once.
 */
final class QuantizedProjections {
    private final GraphBuilder g;
    private final DecoderGraph.Quantization quantization;
    private final Map<String, Integer> opsets;
    private final Map<String, String[]> inputs = new HashMap<>();
    private final Map<String, String> columnOrders = new HashMap<>();
    private final List<DecoderGraph.Plane> planes = new ArrayList<>();

    QuantizedProjections(GraphBuilder g, DecoderGraph.Quantization quantization, Map<String, Integer> opsets) {
        this.g = g;
        this.quantization = quantization;
        this.opsets = opsets;
    }

    /** x W^T for the quantized weight {@code q}; {@code axis0} is the graph's [0] constant. */
    String apply(String name, String x, DecoderGraph.QuantizedWeight q, String axis0) {
        String in = q.permuted() ? permutedInput(name, x, q) : x;
        return quantization.portable() ? dequantizeMatMul(name, in, q, axis0) : matMulNBits(name, in, q);
    }

    /** x's input features in the stored column order of {@code q}: a Gather by its column order (int64 [k]). */
    private String permutedInput(String name, String x, DecoderGraph.QuantizedWeight q) {
        String order = columnOrders.computeIfAbsent(q.name(), n -> plane(q, DecoderGraph.PlaneKind.COLUMN_ORDER,
                new OnnxWriter.Initializer(n + ".column_order", OnnxType.INT64, new long[] {q.k()})));
        return g.node("Gather", name + "/permuted_input", List.of(x, order), attr("axis", 1L));
    }

    /** The planes declared so far, in the order the exporter writes them. */
    List<DecoderGraph.Plane> planes() {
        return List.copyOf(planes);
    }

    private String matMulNBits(String name, String x, DecoderGraph.QuantizedWeight q) {
        String[] in = inputs.computeIfAbsent(q.name(), n -> {
            MatMulNBitsWeights w = new MatMulNBitsWeights(q.layout(), q.n(), q.k());
            String codes = plane(q, DecoderGraph.PlaneKind.NBITS_CODES, OnnxWriter.Initializer.of(w.codes(n + ".MatMulNBits.B")));
            String scales = plane(q, DecoderGraph.PlaneKind.NBITS_SCALES, OnnxWriter.Initializer.of(w.scales(n + ".MatMulNBits.scales")));
            List<String> inputs = new ArrayList<>(List.of(codes, f32(scales)));
            if (w.hasZeroPoints()) {
                inputs.add(plane(q, DecoderGraph.PlaneKind.NBITS_ZERO_POINTS, OnnxWriter.Initializer.of(w.zeroPoints(n + ".MatMulNBits.zero_points"))));
            }
            return inputs.toArray(String[]::new);
        });
        opsets.put(DecoderGraph.MS_DOMAIN, 1);
        List<String> inputs = new ArrayList<>(List.of(x));
        inputs.addAll(List.of(in));
        g.node(DecoderGraph.MS_DOMAIN, "MatMulNBits", List.of(name), inputs, attr("K", q.k()), attr("N", q.n()),
                attr("bits", (long) q.layout().bits()), attr("block_size", (long) q.layout().groupSize()),
                attr("accuracy_level", (long) quantization.accuracyLevel()));
        return name;
    }

    private String dequantizeMatMul(String name, String x, DecoderGraph.QuantizedWeight q, String axis0) {
        String[] in = inputs.computeIfAbsent(q.name(), n -> {
            DequantizeLinearWeights w = new DequantizeLinearWeights(q.layout(), q.n(), q.k());
            List<String> inputs = new ArrayList<>(List.of(plane(q, DecoderGraph.PlaneKind.DQ_CODES, w.codes(n + ".quantized")),
                    f32(plane(q, DecoderGraph.PlaneKind.DQ_SCALES, w.scales(n + ".scales")))));
            if (q.layout().asymmetric()) {
                inputs.add(plane(q, DecoderGraph.PlaneKind.DQ_ZERO_POINTS, w.zeroPoints(n + ".zero_points")));
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
    private String plane(DecoderGraph.QuantizedWeight q, DecoderGraph.PlaneKind kind, OnnxWriter.Initializer init) {
        g.reserve(init.name());
        planes.add(new DecoderGraph.Plane(q, kind, init));
        return init.name();
    }

    /** fp16 scales as float32, the activations' type (ONNX Runtime folds the Cast when it loads the model). */
    private String f32(String f16) {
        return g.node("Cast", f16 + "/f32", f16, attr("to", OnnxType.FLOAT.code()));
    }
}
