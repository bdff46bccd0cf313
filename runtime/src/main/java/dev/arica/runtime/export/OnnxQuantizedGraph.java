package dev.arica.runtime.export;

import static dev.arica.runtime.export.GraphBuilder.attr;

import com.google.protobuf.ByteString;
import dev.arica.formats.onnx.OnnxModel;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.formats.onnx.proto.AttributeProto;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.NodeProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.onnx.proto.TensorProto;
import dev.arica.formats.onnx.proto.ValueInfoProto;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.runtime.export.DecoderGraph.PlaneKind;
import dev.arica.runtime.export.OnnxWeightPlan.Form;
import dev.arica.runtime.export.OnnxWeightPlan.Matrix;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The graph of a quantized ONNX model: the input's graph with each planned node replaced by its quantized
 * operator, reading planes written from the quantized matrices, and every other node, input, output, initializer
 * and model field as it was. Also the order in which the initializers that are not copied into the graph as
 * they are (planes, float weights streamed from external data) are written.
 */
final class OnnxQuantizedGraph {

    /** An initializer written after the graph: a float weight copied from the input, or a plane of a matrix. */
    sealed interface Item permits FloatCopy, Plane {
        OnnxWriter.Initializer initializer();
    }

    /** The input's initializer, copied byte for byte. */
    record FloatCopy(OnnxWriter.Initializer initializer) implements Item {}

    /** A plane of a quantized matrix: {@code kind} says which bytes, {@code initializer} how they are declared. */
    record Plane(Matrix matrix, PlaneKind kind, OnnxWriter.Initializer initializer) implements Item {}

    /** The model (graph with its inline initializers) and the initializers to write after it, in order. */
    record Built(ModelProto model, List<Item> items) {}

    /** ONNX Runtime's contrib domain and the version of its operators used here. */
    static final String MS_DOMAIN = DecoderGraph.MS_DOMAIN;
    /** DequantizeLinear takes block_size from this opset. */
    static final int PORTABLE_OPSET = DecoderGraph.QUANTIZED_OPSET;

    private final OnnxModel model;
    private final OnnxWeightPlan plan;
    private final int accuracyLevel;
    private final Set<String> names = new HashSet<>();
    private final List<Item> items = new ArrayList<>();
    private final List<TensorProto> constants = new ArrayList<>();
    /** Per matrix and form, the inputs of its quantized operator after the activations (or the dequantized weight). */
    private final Map<Matrix, Map<Form, List<String>>> inputs = new HashMap<>();
    /** Per matrix, its scales (and zero points) shared by MatMulNBits and GatherBlockQuantized. */
    private final Map<Matrix, List<String>> shared = new HashMap<>();
    private final List<NodeProto> nodes = new ArrayList<>();
    /** Per matrix, the type of its weight: the activations' type. */
    private final Map<Matrix, OnnxType> typeOf = new HashMap<>();
    /** Per matrix, its scales in the activations' type and its zero points, made before the first use. */
    private final Map<Matrix, List<String>> castScales = new HashMap<>();
    /** Per matrix, the dequantized weight [K, N] for MatMul, made once before its first use. */
    private final Map<Matrix, String> dequantized = new HashMap<>();
    /** Per fp16 plane, its Cast to float32. */
    private final Map<String, String> casts = new HashMap<>();
    /** Per activation read by int8 per-channel products, its DynamicQuantizeLinear outputs. */
    private final Map<String, List<String>> quantized = new HashMap<>();

    private OnnxQuantizedGraph(OnnxModel model, OnnxWeightPlan plan, int accuracyLevel) {
        this.model = model;
        this.plan = plan;
        this.accuracyLevel = accuracyLevel;
    }

    /**
     * @param externalThreshold float initializers of the input larger than this, or kept in its external data, are
     *     written after the graph (streamed); the others stay in the graph as they are
     */
    static Built build(OnnxModel model, OnnxWeightPlan plan, int accuracyLevel, long externalThreshold) {
        return new OnnxQuantizedGraph(model, plan, accuracyLevel).build(externalThreshold);
    }

    private Built build(long externalThreshold) {
        GraphProto in = model.graph();
        collectNames(in);
        Map<String, TensorProto> protos = new HashMap<>();
        for (TensorProto t : in.getInitializerList()) {
            protos.put(t.getName(), t);
        }
        Set<String> dropped = new HashSet<>();
        List<TensorProto> kept = new ArrayList<>();
        for (OnnxWeightPlan.Weight w : plan.weights()) {
            OnnxModel.Initializer init = w.initializer();
            if (w.keptFloat()) {
                boolean stream = init.type() != OnnxType.STRING && (init.external() || init.bytes() > externalThreshold);
                if (stream) {
                    items.add(new FloatCopy(new OnnxWriter.Initializer(init.name(), init.type(), init.shape())));
                } else {
                    kept.add(protos.get(init.name()));
                }
            } else {
                dropped.add(init.name());
            }
            for (Matrix m : w.matrices()) {
                declarePlanes(m, init.type());
            }
        }
        Set<Integer> absorbed = plan.absorbed();
        Set<String> gone = new HashSet<>(dropped);
        for (int i = 0; i < in.getNodeCount(); i++) {
            OnnxWeightPlan.Replacement r = plan.replacements().get(i);
            if (r != null) {
                replace(in.getNode(i), r);
                if (r.absorbed() >= 0) {
                    gone.add(in.getNode(i).getOutput(0)); // the product the bias was added to is no longer a value
                }
            } else if (!absorbed.contains(i)) {
                nodes.add(in.getNode(i));
            }
        }
        GraphProto.Builder g = in.toBuilder().clearNode().addAllNode(nodes).clearInitializer().addAllInitializer(kept)
                .addAllInitializer(constants);
        // A weight that was also declared as a graph input (models before IR 4, or exported with
        // keep_initializers_as_inputs) is no longer a value once quantized away.
        g.clearInput().addAllInput(without(in.getInputList(), dropped));
        g.clearValueInfo().addAllValueInfo(without(in.getValueInfoList(), gone));
        ModelProto.Builder out = model.proto().toBuilder().setGraph(g);
        boolean contrib = plan.weights().stream().flatMap(w -> w.matrices().stream())
                .anyMatch(m -> !m.forms().contains(Form.DEQUANTIZE_LINEAR));
        if (contrib && out.getOpsetImportList().stream().noneMatch(o -> o.getDomain().equals(MS_DOMAIN))) {
            out.addOpsetImport(OperatorSetIdProto.newBuilder().setDomain(MS_DOMAIN).setVersion(1));
        }
        // Initializers that are not graph inputs need IR 4; int4 and uint4 tensors need IR 10.
        long ir = Math.max(out.getIrVersion(), 4);
        if (items.stream().anyMatch(t -> t.initializer().type().bits() == 4)) {
            ir = Math.max(ir, DecoderGraph.QUANTIZED_IR_VERSION);
        }
        out.setIrVersion(ir);
        return new Built(out.build(), List.copyOf(items));
    }

    private static List<ValueInfoProto> without(List<ValueInfoProto> values, Set<String> dropped) {
        return values.stream().filter(v -> !dropped.contains(v.getName())).toList();
    }

    /** Declares the planes of {@code m} in the order they are written: codes, scales, zero points per operator. */
    private void declarePlanes(Matrix m, OnnxType weightType) {
        typeOf.put(m, weightType);
        Map<Form, List<String>> byForm = new HashMap<>();
        inputs.put(m, byForm);
        if (m.perChannel()) {
            ChannelInt8Weights w = new ChannelInt8Weights(m.n(), m.k());
            if (m.forms().contains(Form.MATMUL_INTEGER_TO_FLOAT)) {
                byForm.put(Form.MATMUL_INTEGER_TO_FLOAT, List.of(
                        plane(m, PlaneKind.CHANNEL_COLUMNS, w.columns(fresh(m.id() + ".MatMulIntegerToFloat.B"))),
                        plane(m, PlaneKind.CHANNEL_SCALES, w.scales(fresh(m.id() + ".MatMulIntegerToFloat.b_scale"), m.n()))));
            }
            if (m.forms().contains(Form.DEQUANTIZED_TABLE)) {
                byForm.put(Form.DEQUANTIZED_TABLE, List.of(
                        plane(m, PlaneKind.CHANNEL_ROWS, w.rows(fresh(m.id() + ".quantized"))),
                        plane(m, PlaneKind.CHANNEL_SCALES, w.scales(fresh(m.id() + ".scales"), m.n(), 1))));
            }
            return;
        }
        QuantLayout layout = m.layout();
        MatMulNBitsWeights nbits = new MatMulNBitsWeights(layout, m.n(), m.k());
        if (m.forms().contains(Form.MATMUL_NBITS) || m.forms().contains(Form.GATHER_BLOCK_QUANTIZED)) {
            String op = m.forms().contains(Form.MATMUL_NBITS) ? "MatMulNBits" : "GatherBlockQuantized";
            List<String> tail = new ArrayList<>();
            if (m.forms().contains(Form.MATMUL_NBITS)) {
                tail.add(plane(m, PlaneKind.NBITS_CODES, OnnxWriter.Initializer.of(nbits.codes(fresh(m.id() + ".MatMulNBits.B")))));
            }
            if (m.forms().contains(Form.GATHER_BLOCK_QUANTIZED)) {
                // The same bytes as MatMulNBits' B (whole groups), as GatherBlockQuantized wants them: [rows, width * bits / 8].
                tail.add(plane(m, PlaneKind.NBITS_CODES, new OnnxWriter.Initializer(fresh(m.id() + ".GatherBlockQuantized.data"),
                        OnnxType.UINT8, new long[] {m.n(), nbits.blocks() * nbits.blob()})));
            }
            List<String> common = new ArrayList<>();
            common.add(plane(m, PlaneKind.NBITS_SCALES, OnnxWriter.Initializer.of(nbits.scales(fresh(m.id() + "." + op + ".scales")))));
            if (nbits.hasZeroPoints()) {
                common.add(plane(m, PlaneKind.NBITS_ZERO_POINTS,
                        OnnxWriter.Initializer.of(nbits.zeroPoints(fresh(m.id() + "." + op + ".zero_points")))));
            }
            shared.put(m, common);
            int t = 0;
            if (m.forms().contains(Form.MATMUL_NBITS)) {
                byForm.put(Form.MATMUL_NBITS, List.of(tail.get(t++)));
            }
            if (m.forms().contains(Form.GATHER_BLOCK_QUANTIZED)) {
                byForm.put(Form.GATHER_BLOCK_QUANTIZED, List.of(tail.get(t)));
            }
        }
        if (m.forms().contains(Form.DEQUANTIZE_LINEAR)) {
            DequantizeLinearWeights dq = new DequantizeLinearWeights(layout, m.n(), m.k());
            List<String> planes = new ArrayList<>();
            planes.add(plane(m, PlaneKind.DQ_CODES, rename(dq.codes("codes"), fresh(m.id() + ".quantized"))));
            planes.add(plane(m, PlaneKind.DQ_SCALES, rename(dq.scales("scales"), fresh(m.id() + ".scales"))));
            if (layout.asymmetric()) {
                planes.add(plane(m, PlaneKind.DQ_ZERO_POINTS, rename(dq.zeroPoints("zp"), fresh(m.id() + ".zero_points"))));
            }
            byForm.put(Form.DEQUANTIZE_LINEAR, planes);
        }
    }

    private static OnnxWriter.Initializer rename(OnnxWriter.Initializer i, String name) {
        return new OnnxWriter.Initializer(name, i.type(), i.dims());
    }

    private String plane(Matrix m, PlaneKind kind, OnnxWriter.Initializer init) {
        items.add(new Plane(m, kind, init));
        return init.name();
    }

    /** The nodes that replace {@code node}, preceded by the ones its matrix needs the first time it is used. */
    private void replace(NodeProto node, OnnxWeightPlan.Replacement r) {
        Matrix m = r.matrix();
        QuantLayout layout = m.layout();
        String x = node.getInput(r.op() == OnnxWeightPlan.Op.GATHER ? 1 : 0);
        String output = r.output();
        String name = node.getName();
        switch (r.op()) {
            case GATHER -> {
                if (m.forms().contains(Form.DEQUANTIZED_TABLE)) {
                    // The Gather stays as it is, reading the table dequantized.
                    nodes.add(node.toBuilder().setInput(0, dequantizedTable(m)).build());
                    return;
                }
                List<String> in = new ArrayList<>(List.of(inputs.get(m).get(Form.GATHER_BLOCK_QUANTIZED).getFirst(), x));
                in.addAll(scales(m));
                nodes.add(node(MS_DOMAIN, "GatherBlockQuantized", name, in, output, attr("gather_axis", 0L),
                        attr("quantize_axis", 1L), attr("block_size", (long) layout.groupSize()),
                        attr("bits", (long) layout.bits())));
            }
            case MATMUL, GEMM -> {
                boolean addAfter = r.bias() != null && !r.biasInput();
                String bias = r.biasInput() ? r.bias() : null;
                String product = !addAfter ? output : fresh(output + "/" + (isPortable(m) ? "MatMul"
                        : m.perChannel() ? "MatMulIntegerToFloat" : "MatMulNBits"));
                if (isPortable(m)) {
                    nodes.add(node("", "MatMul", name, List.of(x, dequantized(m)), product));
                } else if (m.perChannel()) {
                    // MatMulIntegerToFloat(A_q, B, a_scale, b_scale, a_zero_point, b_zero_point, bias)
                    List<String> a = quantizedActivations(x);
                    List<String> w = inputs.get(m).get(Form.MATMUL_INTEGER_TO_FLOAT);
                    List<String> in = new ArrayList<>(List.of(a.get(0), w.get(0), a.get(1), activationType(w.get(1), m),
                            a.get(2)));
                    if (bias != null) {
                        in.addAll(List.of("", bias));
                    }
                    nodes.add(node(MS_DOMAIN, "MatMulIntegerToFloat", name, in, product));
                } else {
                    // MatMulNBits(A, B, scales, zero_points, g_idx, bias)
                    List<String> in = new ArrayList<>(List.of(x, inputs.get(m).get(Form.MATMUL_NBITS).getFirst()));
                    in.addAll(scales(m));
                    if (bias != null) {
                        while (in.size() < 5) {
                            in.add("");
                        }
                        in.add(bias);
                    }
                    nodes.add(node(MS_DOMAIN, "MatMulNBits", name, in, product, attr("K", m.k()), attr("N", m.n()),
                            attr("bits", (long) layout.bits()), attr("block_size", (long) layout.groupSize()),
                            attr("accuracy_level", (long) accuracyLevel)));
                }
                if (addAfter) {
                    // Gemm's C, broadcast to [M, N] as Gemm does.
                    nodes.add(node("", "Add", name.isEmpty() ? "" : fresh(name + "/bias"), List.of(product, r.bias()), output));
                }
            }
        }
    }

    /**
     * {@code x} quantized to uint8 per tensor at run time (its quantized values, scale and zero point): one
     * DynamicQuantizeLinear for all the products reading {@code x} (a layer's query, key and value).
     */
    private List<String> quantizedActivations(String x) {
        return quantized.computeIfAbsent(x, k -> {
            List<String> out = List.of(fresh(x + "/quantized"), fresh(x + "/scale"), fresh(x + "/zero_point"));
            NodeProto.Builder n = NodeProto.newBuilder().setOpType("DynamicQuantizeLinear").addInput(x).addAllOutput(out)
                    .setName(fresh(x + "/DynamicQuantizeLinear"));
            nodes.add(n.build());
            return out;
        });
    }

    private boolean isPortable(Matrix m) {
        return m.forms().contains(Form.DEQUANTIZE_LINEAR);
    }

    /** Scales in the activations' type (a Cast of the fp16 plane for float32, folded when ORT loads the model), zero points. */
    private List<String> scales(Matrix m) {
        return castScales.computeIfAbsent(m, k -> {
            List<String> planes = shared.get(m);
            List<String> out = new ArrayList<>();
            out.add(activationType(planes.getFirst(), m));
            out.addAll(planes.subList(1, planes.size()));
            return out;
        });
    }

    /** {@code f16} as the activations' type: itself for a float16 model, else a Cast to float32 (made once). */
    private String activationType(String f16, Matrix m) {
        if (typeOf.get(m) == OnnxType.FLOAT16) {
            return f16;
        }
        return casts.computeIfAbsent(f16, k -> {
            String cast = fresh(f16 + "/f32");
            nodes.add(node("", "Cast", cast, List.of(f16), cast, attr("to", (long) OnnxType.FLOAT.code())));
            return cast;
        });
    }

    /** The dequantized weight [K, N] for MatMul, made once per matrix before its first use. */
    private String dequantized(Matrix m) {
        return dequantized.computeIfAbsent(m, k -> {
            QuantLayout layout = m.layout();
            List<String> planes = inputs.get(m).get(Form.DEQUANTIZE_LINEAR);
            List<String> in = new ArrayList<>();
            in.add(planes.get(0));
            in.add(activationType(planes.get(1), m));
            in.addAll(planes.subList(2, planes.size()));
            String w = fresh(m.id() + "/dequantized");
            nodes.add(node("", "DequantizeLinear", w, in, w, attr("axis", 0L), attr("block_size", (long) layout.groupSize())));
            if (layout.groups(m.k()) * layout.groupSize() != m.k()) {
                String unpadded = fresh(m.id() + "/unpadded");
                nodes.add(node("", "Slice", unpadded, List.of(w, ints(unpadded + "/start", 0), ints(unpadded + "/end", m.k()),
                        ints(unpadded + "/axes", 0)), unpadded));
                w = unpadded;
            }
            return w;
        });
    }

    /** A table in int8 per row as float: Cast(codes) * Cast(scales), computed once by ONNX Runtime on load. */
    private String dequantizedTable(Matrix m) {
        return dequantized.computeIfAbsent(m, k -> {
            List<String> planes = inputs.get(m).get(Form.DEQUANTIZED_TABLE);
            String codes = fresh(planes.get(0) + "/f32");
            nodes.add(node("", "Cast", codes, List.of(planes.get(0)), codes, attr("to", (long) typeOf.get(m).code())));
            String scales = typeOf.get(m) == OnnxType.FLOAT16 ? planes.get(1) : activationType(planes.get(1), m);
            String table = fresh(m.id() + "/dequantized");
            nodes.add(node("", "Mul", table, List.of(codes, scales), table));
            return table;
        });
    }

    /** An int64 constant [values.length], inline in the graph. */
    private String ints(String base, long... values) {
        String name = fresh(base);
        ByteBuffer b = ByteBuffer.allocate(8 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        constants.add(TensorProto.newBuilder().setName(name).setDataType(OnnxType.INT64.code()).addDims(values.length)
                .setRawData(ByteString.copyFrom(b.array())).build());
        return name;
    }

    private static NodeProto node(String domain, String op, String name, List<String> inputs, String output,
            AttributeProto... attributes) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).addAllInput(inputs).addOutput(output);
        if (!name.isEmpty()) {
            n.setName(name);
        }
        if (!domain.isEmpty()) {
            n.setDomain(domain);
        }
        for (AttributeProto a : attributes) {
            n.addAttribute(a);
        }
        return n.build();
    }

    /** {@code base}, or {@code base_1}, {@code base_2}... when the graph has a value or node of that name. */
    private String fresh(String base) {
        String name = base;
        for (int i = 1; !names.add(name); i++) {
            name = base + "_" + i;
        }
        return name;
    }

    private void collectNames(GraphProto g) {
        for (TensorProto t : g.getInitializerList()) {
            names.add(t.getName());
        }
        for (ValueInfoProto v : g.getInputList()) {
            names.add(v.getName());
        }
        for (ValueInfoProto v : g.getOutputList()) {
            names.add(v.getName());
        }
        for (ValueInfoProto v : g.getValueInfoList()) {
            names.add(v.getName());
        }
        for (NodeProto n : g.getNodeList()) {
            names.add(n.getName());
            names.addAll(n.getInputList());
            names.addAll(n.getOutputList());
            for (AttributeProto a : n.getAttributeList()) {
                for (GraphProto sub : OnnxWeightPlan.subgraphs(a)) {
                    collectNames(sub);
                }
            }
        }
    }
}
