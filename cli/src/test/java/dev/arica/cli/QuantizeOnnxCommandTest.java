package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import dev.arica.formats.onnx.OnnxModel;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.NodeProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.onnx.proto.TensorProto;
import dev.arica.formats.testing.Stories260K;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code arica quantize} of an .onnx model built here: y = (x W1 + b) W2, with a Gather table beside. */
class QuantizeOnnxCommandTest {

    @TempDir
    Path tmp;

    private static TensorProto floats(String name, SplittableRandom r, long... dims) {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        ByteBuffer b = ByteBuffer.allocate((int) n * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            b.putFloat((float) (r.nextDouble() - 0.5));
        }
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(OnnxType.FLOAT.code())
                .setRawData(ByteString.copyFrom(b.array()));
        for (long d : dims) {
            t.addDims(d);
        }
        return t.build();
    }

    private static NodeProto node(String op, String name, String output, String... inputs) {
        NodeProto.Builder n = NodeProto.newBuilder().setOpType(op).setName(name).addOutput(output);
        for (String i : inputs) {
            n.addInput(i);
        }
        return n.build();
    }

    private Path model() throws IOException {
        SplittableRandom r = new SplittableRandom(3);
        GraphProto g = GraphProto.newBuilder().setName("two_layers")
                .addInput(OnnxModel.ValueInfo.tensor("x", OnnxType.FLOAT, "batch", 128L).toProto())
                .addInput(OnnxModel.ValueInfo.tensor("ids", OnnxType.INT64, "batch").toProto())
                .addNode(node("MatMul", "fc1", "h", "x", "W1"))
                .addNode(node("Add", "fc1_bias", "hb", "h", "b"))
                .addNode(node("MatMul", "fc2", "y", "hb", "W2"))
                .addNode(node("Gather", "embed", "e", "E", "ids"))
                .addOutput(OnnxModel.ValueInfo.tensor("y", OnnxType.FLOAT, "batch", 64L).toProto())
                .addOutput(OnnxModel.ValueInfo.tensor("e", OnnxType.FLOAT, "batch", 128L).toProto())
                .addInitializer(floats("W1", r, 128, 96))
                .addInitializer(floats("b", r, 96))
                .addInitializer(floats("W2", r, 96, 64))
                .addInitializer(floats("E", r, 64, 128))
                .build();
        ModelProto m = ModelProto.newBuilder().setIrVersion(8).setProducerName("test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).setGraph(g).build();
        return Files.write(tmp.resolve("model.onnx"), m.toByteArray());
    }

    @Test
    void quantizesAnOnnxModelAndReportsEveryTensor() throws IOException {
        Path in = model();
        Path out = tmp.resolve("q.onnx");
        Path report = tmp.resolve("report.json");
        CliTesting.Run r = ok("quantize", in.toString(), "-o", out.toString(), "--scheme", "int8", "--group-size", "32",
                "--quantize-embeddings", "--report", report.toString());
        assertTrue(r.out().contains("total: 4 tensors, 3 quantized"), r.out());
        assertTrue(r.out().contains("wrote " + out), r.out());
        JsonNode j = CliTesting.JSON.readTree(report.toFile());
        assertEquals("onnx", j.get("format").asText());
        assertEquals("MatMulNBits", j.get("operator").asText());
        assertEquals(4, j.get("accuracy_level").asInt());
        assertEquals(32, j.get("group_size").asInt());
        assertEquals("int8", j.get("embeddings").get("scheme").asText());
        assertEquals(4, j.get("tensors").size());
        assertEquals("MatMul B", j.get("tensors").get(0).get("reason").asText());
        assertEquals(3, j.get("totals").get("quantized").asInt());
        assertEquals(Files.size(out), j.get("totals").get("file_bytes").asLong());
        JsonNode inspect = ok("inspect", out.toString(), "--json").json();
        assertEquals(2, inspect.get("ops").get("com.microsoft:MatMulNBits").asInt());
        assertEquals(1, inspect.get("ops").get("com.microsoft:GatherBlockQuantized").asInt());
        assertEquals(null, inspect.get("ops").get("Add"), "the bias went into fc1's MatMulNBits");
    }

    @Test
    void dynamicAndPortableForms() throws IOException {
        Path in = model();
        Path out = tmp.resolve("d.onnx");
        Path report = tmp.resolve("d.json");
        ok("quantize", in.toString(), "-o", out.toString(), "--scheme", "int8", "--dynamic", "--quantize-embeddings",
                "--report", report.toString());
        JsonNode j = CliTesting.JSON.readTree(report.toFile());
        assertEquals("MatMulIntegerToFloat", j.get("operator").asText());
        assertTrue(j.get("per_channel").asBoolean());
        assertTrue(j.get("group_size").isNull());
        assertEquals("int8 per channel", j.get("tensors").get(0).get("storage").asText());
        JsonNode inspect = ok("inspect", out.toString(), "--json").json();
        assertEquals(2, inspect.get("ops").get("com.microsoft:MatMulIntegerToFloat").asInt());
        assertEquals(2, inspect.get("ops").get("DynamicQuantizeLinear").asInt());
        // The model imports opset 17: DequantizeLinear with block_size needs 21.
        assertBadInput(run("quantize", in.toString(), "-o", tmp.resolve("p.onnx").toString(), "--scheme", "int8",
                "--portable"), "needs ONNX opset 21", "imports opset 17");
        assertNothingWritten(tmp.resolve("p.onnx"));
    }

    @Test
    void refusals() throws IOException {
        Path in = model();
        String o = tmp.resolve("x.onnx").toString();
        assertBadInput(run("quantize", in.toString(), "-o", o), "--scheme is required");
        assertBadInput(run("quantize", in.toString(), "-o", o, "--scheme", "int8", "--float-type", "f16"), "--float-type");
        assertBadInput(run("quantize", in.toString(), "-o", o, "--scheme", "q8_0", "--dynamic"), "--dynamic", "int8");
        assertBadInput(run("quantize", in.toString(), "-o", o, "--scheme", "int8", "--dynamic", "--portable"),
                "exclude each other");
        assertBadInput(run("quantize", in.toString(), "-o", o, "--scheme", "int8", "--accuracy-level", "2"),
                "--accuracy-level");
        assertBadInput(run("quantize", in.toString(), "-o", tmp.resolve("x.arica").toString(), "--scheme", "int8"),
                "an .onnx file");
        assertBadInput(run("quantize", Stories260K.checkpoint().toString(), "-o", tmp.resolve("s.arica").toString(),
                "--scheme", "q8_0", "--portable"), "apply to an .onnx input");
        Path text = Files.writeString(tmp.resolve("text.onnx"), "not a model\n");
        assertBadInput(run("quantize", text.toString(), "-o", o, "--scheme", "int8"), text.toString(), "not an ONNX model");
        byte[] bytes = Files.readAllBytes(in);
        Path cut = Files.write(tmp.resolve("cut.onnx"), Arrays.copyOf(bytes, bytes.length - 100));
        assertBadInput(run("quantize", cut.toString(), "-o", o, "--scheme", "int8"), cut.toString());
        assertBadInput(run("quantize", in.toString(), "-o", o, "--scheme", "int8", "--keep", "W"), "nothing to quantize");
        assertNothingWritten(tmp.resolve("x.onnx"));
    }
}
