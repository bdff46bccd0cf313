package dev.arica.runtime.export;

import com.google.protobuf.ByteString;
import dev.arica.formats.onnx.OnnxModel;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.proto.AttributeProto;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.NodeProto;
import dev.arica.formats.onnx.proto.TensorProto;
import dev.arica.formats.onnx.proto.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Appends nodes, small constants and graph inputs/outputs to an ONNX graph, keeping every value name unique. */
final class GraphBuilder {
    private final GraphProto.Builder graph = GraphProto.newBuilder();
    private final Set<String> values = new HashSet<>();

    GraphBuilder(String name) {
        graph.setName(name);
    }

    GraphProto.Builder proto() {
        return graph;
    }

    /** Adds a node computing {@code output} (a new value name) and returns that name. */
    String node(String op, String output, List<String> inputs, AttributeProto... attributes) {
        node("", op, List.of(output), inputs, attributes);
        return output;
    }

    /**
     * Adds a node of operator set {@code domain} ("" for ONNX) with several outputs, each a new value name or
     * "" for an optional output left out; "" in {@code inputs} likewise skips an optional input.
     */
    void node(String domain, String op, List<String> outputs, List<String> inputs, AttributeProto... attributes) {
        for (String o : outputs) {
            if (!o.isEmpty()) {
                claim(o);
            }
        }
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(outputs.getFirst() + "/" + op)
                .addAllOutput(outputs).addAllInput(inputs);
        if (!domain.isEmpty()) {
            n.setDomain(domain);
        }
        for (AttributeProto a : attributes) {
            n.addAttribute(a);
        }
        graph.addNode(n);
    }

    String node(String op, String output, String input, AttributeProto... attributes) {
        return node(op, output, List.of(input), attributes);
    }

    private void claim(String name) {
        if (!values.add(name)) {
            throw new IllegalStateException("value name used twice: " + name);
        }
    }

    /** A name the builder will not hand out, for values defined elsewhere (inputs, weights). */
    void reserve(String name) {
        claim(name);
    }

    /** An int64 constant of shape [values.length]. */
    String ints(String name, long... v) {
        ByteBuffer b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long x : v) {
            b.putLong(x);
        }
        return constant(name, OnnxType.INT64, b.array(), v.length);
    }

    /** An int64 scalar constant. */
    String scalar(String name, long v) {
        return constant(name, OnnxType.INT64, ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
    }

    /** A float32 scalar constant. */
    String scalar(String name, float v) {
        return constant(name, OnnxType.FLOAT, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(v).array());
    }

    /** A float32 constant of shape [values.length]. */
    String floats(String name, float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        for (float x : v) {
            b.putFloat(x);
        }
        return constant(name, OnnxType.FLOAT, b.array(), v.length);
    }

    private String constant(String name, OnnxType type, byte[] raw, long... dims) {
        claim(name);
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type.code())
                .setRawData(ByteString.copyFrom(raw));
        for (long d : dims) {
            t.addDims(d);
        }
        graph.addInitializer(t);
        return name;
    }

    /** Declares a graph input; each dim is a Long (fixed) or a String (symbolic). */
    String input(String name, OnnxType type, Object... dims) {
        claim(name);
        graph.addInput(valueInfo(name, type, dims));
        return name;
    }

    /** Declares an existing value as a graph output. */
    void output(String name, OnnxType type, Object... dims) {
        if (!values.contains(name)) {
            throw new IllegalStateException("output of undefined value " + name);
        }
        graph.addOutput(valueInfo(name, type, dims));
    }

    private static ValueInfoProto valueInfo(String name, OnnxType type, Object... dims) {
        return OnnxModel.ValueInfo.tensor(name, type, dims).toProto();
    }

    static AttributeProto attr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    static AttributeProto attr(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    static AttributeProto attr(String name, long[] v) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long x : v) {
            a.addInts(x);
        }
        return a.build();
    }
}
