package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.NodeProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.onnx.proto.StringStringEntryProto;
import dev.arica.formats.onnx.proto.TensorProto;
import dev.arica.formats.onnx.proto.TensorShapeProto;
import dev.arica.formats.onnx.proto.TypeProto;
import dev.arica.formats.onnx.proto.ValueInfoProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** inspect of ONNX models built in the test with the protobuf builders. */
class InspectOnnxTest {

    @TempDir
    Path tmp;

    /** x [n, 2] float -> Relu(MatMul(x, w)) -> y [n, 3]; w [2, 3] external in w.bin at offset 128, b inline. */
    private ModelProto.Builder model(String location) {
        TypeProto.Tensor.Builder x = TypeProto.Tensor.newBuilder().setElemType(1).setShape(TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("n"))
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(2)));
        GraphProto.Builder g = GraphProto.newBuilder().setName("g")
                .addInput(ValueInfoProto.newBuilder().setName("x").setType(TypeProto.newBuilder().setTensorType(x)))
                .addOutput(ValueInfoProto.newBuilder().setName("y").setType(TypeProto.newBuilder()
                        .setTensorType(TypeProto.Tensor.newBuilder().setElemType(1))))
                .addNode(NodeProto.newBuilder().setOpType("MatMul").addInput("x").addInput("w").addOutput("xw"))
                .addNode(NodeProto.newBuilder().setOpType("Relu").addInput("xw").addOutput("y"))
                .addInitializer(TensorProto.newBuilder().setName("w").setDataType(1).addDims(2).addDims(3)
                        .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(location))
                        .addExternalData(StringStringEntryProto.newBuilder().setKey("offset").setValue("128")))
                .addInitializer(TensorProto.newBuilder().setName("b").setDataType(7).addDims(2)
                        .setRawData(ByteString.copyFrom(new byte[16])));
        return ModelProto.newBuilder().setIrVersion(9).setProducerName("test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(18)).setGraph(g);
    }

    private Path write(String name, ModelProto m) throws IOException {
        Files.write(tmp.resolve("w.bin"), new byte[128 + 24]);
        return Files.write(tmp.resolve(name), m.toByteArray());
    }

    @Test
    void jsonDescribesOpsetsValuesOperatorsAndInitializers() throws IOException {
        Path p = write("m.onnx", model("w.bin").build());
        JsonNode j = ok("inspect", "--json", p.toString()).json();
        assertEquals("onnx", j.get("format").asText());
        assertEquals(p.toString(), j.get("path").asText());
        assertEquals(9, j.get("ir_version").asInt());
        assertEquals("test", j.get("producer_name").asText());
        assertEquals("[{\"domain\":\"\",\"version\":18}]", j.get("opset_imports").toString());
        assertEquals("[{\"name\":\"x\",\"dtype\":\"F32\",\"shape\":[\"n\",2]}]", j.get("inputs").toString());
        assertEquals("[{\"name\":\"y\",\"dtype\":\"F32\",\"shape\":null}]", j.get("outputs").toString());
        assertEquals(2, j.get("nodes").asInt());
        assertEquals("{\"MatMul\":1,\"Relu\":1}", j.get("ops").toString());
        assertEquals("[\"w.bin\"]", j.get("files").toString());
        assertEquals(8, j.get("parameters").asLong());
        assertEquals(24 + 16, j.get("bytes").asLong());
        assertEquals("{\"name\":\"w\",\"dtype\":\"F32\",\"shape\":[2,3],\"bytes\":24,\"external\":true,\"location\":\"w.bin\","
                + "\"offset\":128}", j.get("tensors").get(0).toString());
        assertEquals("{\"name\":\"b\",\"dtype\":\"I64\",\"shape\":[2],\"bytes\":16,\"external\":false,\"location\":null,"
                + "\"offset\":null}", j.get("tensors").get(1).toString());
        String human = ok("inspect", p.toString()).out();
        assertTrue(human.contains("opsets      ai.onnx 18"), human);
        assertTrue(human.contains("nodes       2: MatMul 1, Relu 1"), human);
    }

    @Test
    void badOnnxFilesExitWithOneLineNamingTheFile() throws IOException {
        Path random = Files.write(tmp.resolve("random.onnx"), new byte[] {0x0a, 0x7f, 0x13, 0x00, 0x55});
        assertBadInput(run("inspect", random.toString()), random.toString(), "not an ONNX model");
        assertBadInput(run("inspect", "--json", random.toString()), random.toString(), "not an ONNX model");
        Path empty = Files.write(tmp.resolve("empty.onnx"), new byte[0]);
        assertBadInput(run("inspect", empty.toString()), empty.toString(), "empty file");
        byte[] good = model("w.bin").build().toByteArray();
        Path cut = Files.write(tmp.resolve("cut.onnx"), Arrays.copyOf(good, good.length - 7));
        assertBadInput(run("inspect", cut.toString()), cut.toString());
        Path escape = write("escape.onnx", model("../w.bin").build());
        assertBadInput(run("inspect", escape.toString()), escape.toString(), "'w'", "escapes the model's directory");
        Path missing = write("missing.onnx", model("nowhere.bin").build());
        assertBadInput(run("inspect", missing.toString()), missing.toString(), "'nowhere.bin' does not exist");
        Path past = write("past.onnx", model("w.bin").setGraph(model("w.bin").getGraph().toBuilder()
                .setInitializer(0, model("w.bin").getGraph().getInitializer(0).toBuilder().setExternalData(1,
                        StringStringEntryProto.newBuilder().setKey("offset").setValue("129")))).build());
        assertBadInput(run("inspect", past.toString()), past.toString(), "runs past the end");
    }
}
