package dev.arica.formats.onnx;

import com.google.protobuf.ByteString;
import dev.arica.formats.onnx.proto.AttributeProto;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.NodeProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.onnx.proto.StringStringEntryProto;
import dev.arica.formats.onnx.proto.TensorProto;
import dev.arica.formats.onnx.proto.ValueInfoProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** ONNX models built in code with the protobuf builders, independently of OnnxWriter. */
final class OnnxFixtures {
    private OnnxFixtures() {}

    /** A value declaration; each dim is a Long (fixed) or a String (symbolic). */
    static ValueInfoProto value(String name, int elemType, Object... dims) {
        return OnnxModel.ValueInfo.tensor(name, OnnxType.fromCode(elemType).orElseThrow(), dims).toProto();
    }

    static NodeProto node(String op, String[] inputs, String... outputs) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(op + "_" + outputs[0]);
        for (String i : inputs) {
            n.addInput(i);
        }
        for (String o : outputs) {
            n.addOutput(o);
        }
        return n.build();
    }

    static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    /** A small graph: y = MatMul(x, w) + b, relu'd; inputs with a symbolic batch dimension. */
    static GraphProto.Builder graph() {
        return GraphProto.newBuilder().setName("fixture")
                .addInput(value("x", OnnxType.FLOAT.code(), "batch", 4L))
                .addOutput(value("y", OnnxType.FLOAT.code(), "batch", 3L))
                .addNode(node("MatMul", new String[] {"x", "w"}, "xw"))
                .addNode(node("Add", new String[] {"xw", "b"}, "xwb"))
                .addNode(node("Relu", new String[] {"xwb"}, "y"));
    }

    static ModelProto.Builder model(GraphProto.Builder g) {
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("fixture")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17))
                .setGraph(g);
    }

    static TensorProto.Builder raw(String name, OnnxType type, byte[] bytes, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type.code())
                .setRawData(ByteString.copyFrom(bytes));
        for (long d : dims) {
            t.addDims(d);
        }
        return t;
    }

    /** An initializer whose data lies in {@code location}; null offset or length leaves the key out. */
    static TensorProto.Builder external(String name, OnnxType type, String location, Long offset, Long length,
            long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(type.code())
                .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", location));
        if (offset != null) {
            t.addExternalData(entry("offset", offset.toString()));
        }
        if (length != null) {
            t.addExternalData(entry("length", length.toString()));
        }
        for (long d : dims) {
            t.addDims(d);
        }
        return t;
    }

    static StringStringEntryProto entry(String k, String v) {
        return StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
    }

    static Path write(Path file, ModelProto m) throws IOException {
        Files.write(file, m.toByteArray());
        return file;
    }
}
