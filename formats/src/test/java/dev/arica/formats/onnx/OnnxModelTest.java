package dev.arica.formats.onnx;

import static dev.arica.formats.TestSupport.assertFormatError;
import static dev.arica.formats.TestSupport.f32;
import static dev.arica.formats.TestSupport.randomBytes;
import static dev.arica.formats.onnx.OnnxFixtures.external;
import static dev.arica.formats.onnx.OnnxFixtures.graph;
import static dev.arica.formats.onnx.OnnxFixtures.model;
import static dev.arica.formats.onnx.OnnxFixtures.raw;
import static dev.arica.formats.onnx.OnnxFixtures.value;
import static dev.arica.formats.onnx.OnnxFixtures.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.onnx.OnnxModel.Dim;
import dev.arica.formats.onnx.OnnxModel.Initializer;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.NodeProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.onnx.proto.TensorProto;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxModelTest {

    @TempDir
    Path dir;

    private static final byte[] W = f32(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
    private static final byte[] B = f32(-1, 0, 1);

    /** The fixture graph with w external at offset 64 of weights.bin and b inline. */
    private Path externalFixture() throws Exception {
        byte[] file = new byte[64 + W.length + 7];
        System.arraycopy(W, 0, file, 64, W.length);
        Files.write(dir.resolve("weights.bin"), file);
        GraphProto.Builder g = graph()
                .addInitializer(external("w", OnnxType.FLOAT, "weights.bin", 64L, (long) W.length, 4, 3))
                .addInitializer(raw("b", OnnxType.FLOAT, B, 3));
        return write(dir.resolve("m.onnx"), model(g).build());
    }

    @Test
    void readsGraphDescriptionAndInitializers() throws Exception {
        Path m = externalFixture();
        try (OnnxModel onnx = OnnxModel.open(m)) {
            assertEquals(8, onnx.irVersion());
            assertEquals("fixture", onnx.producerName());
            assertEquals(List.of(new OnnxModel.Opset("", 17)), onnx.opsetImports());
            assertEquals(List.of(new OnnxModel.ValueInfo("x", OnnxType.FLOAT, List.of(Dim.symbolic("batch"), Dim.of(4)))),
                    onnx.inputs());
            assertEquals("[batch, 3]", onnx.outputs().getFirst().shape().toString());
            assertEquals(Map.of("Add", 1, "MatMul", 1, "Relu", 1), onnx.opCounts());
            assertEquals(3, onnx.nodeCount());

            Initializer w = onnx.initializer("w").orElseThrow();
            assertTrue(w.external());
            assertEquals("weights.bin", w.location());
            assertEquals(64, w.offset());
            assertEquals(48, w.bytes());
            assertEquals(new TensorInfo("w", DType.F32, new long[] {4, 3}), w.info().orElseThrow());
            Initializer b = onnx.initializer("b").orElseThrow();
            assertFalse(b.external());
            assertNull(b.location());

            MemorySegment wd = onnx.data("w");
            assertTrue(wd.isMapped(), "external data is a view of the mapped file");
            assertArrayEquals(W, wd.toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(B, onnx.data("b").toArray(ValueLayout.JAVA_BYTE));
            assertEquals(List.of(dir.resolve("weights.bin").toAbsolutePath().normalize()), onnx.dataFiles());
            assertEquals(15, onnx.parameterCount());
            assertEquals(60, onnx.dataBytes());
            assertThrows(IllegalArgumentException.class, () -> onnx.data("nope"));
        }
    }

    @Test
    void externalDataFileIsMappedOnceForAllItsTensors() throws Exception {
        byte[] file = randomBytes(5, 256);
        Files.write(dir.resolve("d.bin"), file);
        GraphProto.Builder g = graph()
                .addInitializer(external("w", OnnxType.FLOAT, "d.bin", 0L, 48L, 4, 3))
                .addInitializer(external("b", OnnxType.FLOAT, "d.bin", 128L, null, 3));
        try (OnnxModel onnx = OnnxModel.open(write(dir.resolve("m.onnx"), model(g).build()))) {
            MemorySegment w = onnx.data("w");
            MemorySegment b = onnx.data("b");
            assertEquals(w.address() + 128, b.address(), "both are slices of one mapping");
            assertEquals(file[128], b.get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(1, onnx.dataFiles().size());
        }
    }

    @Test
    void typedFieldsAreReadLikeRawData() throws Exception {
        TensorProto f = TensorProto.newBuilder().setName("w").setDataType(OnnxType.FLOAT.code()).addDims(4).addDims(3)
                .addAllFloatData(List.of(1f, 2f, 3f, 4f, 5f, 6f, 7f, 8f, 9f, 10f, 11f, 12f)).build();
        TensorProto i = TensorProto.newBuilder().setName("b").setDataType(OnnxType.INT64.code()).addDims(2)
                .addInt64Data(-3).addInt64Data(1L << 40).build();
        TensorProto h = TensorProto.newBuilder().setName("h").setDataType(OnnxType.FLOAT16.code()).addDims(1)
                .addInt32Data(Float.floatToFloat16(1.5f) & 0xffff).build();
        try (OnnxModel onnx = OnnxModel.open(write(dir.resolve("m.onnx"),
                model(graph().addInitializer(f).addInitializer(i).addInitializer(h)).build()))) {
            assertArrayEquals(W, onnx.data("w").toArray(ValueLayout.JAVA_BYTE));
            MemorySegment b = onnx.data("b");
            assertEquals(-3, b.get(OnnxModel.I64, 0));
            assertEquals(1L << 40, b.get(OnnxModel.I64, 8));
            assertEquals(1.5f, Float.float16ToFloat(onnx.data("h").get(OnnxModel.I16, 0)));
        }
    }

    @Test
    void initializersListedAsInputsAreNotInputs() throws Exception {
        GraphProto.Builder g = graph().addInitializer(raw("b", OnnxType.FLOAT, B, 3))
                .addInitializer(raw("w", OnnxType.FLOAT, W, 4, 3))
                .addInput(value("w", OnnxType.FLOAT.code(), 4L, 3L));
        try (OnnxModel onnx = OnnxModel.open(write(dir.resolve("m.onnx"), model(g).build()))) {
            assertEquals(List.of("x"), onnx.inputs().stream().map(OnnxModel.ValueInfo::name).toList());
        }
    }

    @Test
    void otherDomainsAreCountedWithTheirName() throws Exception {
        GraphProto.Builder g = graph().addNode(NodeProto.newBuilder().setOpType("MatMulNBits").setDomain("com.microsoft")
                .addInput("x").addOutput("z"));
        ModelProto m = model(g).addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("com.microsoft").setVersion(1))
                .build();
        try (OnnxModel onnx = OnnxModel.open(write(dir.resolve("m.onnx"), m))) {
            assertEquals(1, onnx.opCounts().get("com.microsoft:MatMulNBits"));
            assertEquals(List.of(new OnnxModel.Opset("", 17), new OnnxModel.Opset("com.microsoft", 1)), onnx.opsetImports());
        }
    }

    // ---- files that are not ONNX ----

    @Test
    void refusesFilesThatAreNotOnnx() throws Exception {
        Path empty = Files.write(dir.resolve("empty.onnx"), new byte[0]);
        assertFormatError(empty, null, () -> OnnxModel.open(empty), "not an ONNX model");
        Path text = Files.writeString(dir.resolve("text.onnx"), "{\"hello\": \"this is JSON\"}\n");
        assertFormatError(text, null, () -> OnnxModel.open(text), "not an ONNX model");
        Path random = Files.write(dir.resolve("random.onnx"), randomBytes(11, 4096));
        assertFormatError(random, null, () -> OnnxModel.open(random), "not an ONNX model");
        Path noGraph = write(dir.resolve("nograph.onnx"), ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17)).build());
        assertFormatError(noGraph, null, () -> OnnxModel.open(noGraph), "no graph");
        byte[] good = model(graph()).build().toByteArray();
        Path cut = Files.write(dir.resolve("cut.onnx"), java.util.Arrays.copyOf(good, good.length - 5));
        assertFormatError(cut, null, () -> OnnxModel.open(cut), "not an ONNX model");
    }

    @Test
    void aLyingLengthFieldIsRefusedWithoutAllocating() throws Exception {
        // Field 7 (graph), length-delimited, declaring 2^31 - 2 bytes in a 16-byte file.
        byte[] lie = {0x08, 0x08, 0x3a, (byte) 0xfe, (byte) 0xff, (byte) 0xff, (byte) 0xff, 0x07, 0, 0, 0, 0, 0, 0, 0, 0};
        Path p = Files.write(dir.resolve("lie.onnx"), lie);
        assertFormatError(p, null, () -> OnnxModel.open(p), "not an ONNX model");
    }

    // ---- bad initializers ----

    private Path withInitializer(TensorProto.Builder t) throws Exception {
        Files.write(dir.resolve("weights.bin"), new byte[4096]);
        return write(dir.resolve("bad.onnx"), model(graph().addInitializer(t)).build());
    }

    private void refused(TensorProto.Builder t, String... fragments) throws Exception {
        Path m = withInitializer(t);
        assertFormatError(m, t.getName(), () -> OnnxModel.open(m), fragments);
    }

    @Test
    void refusesLocationsOutsideTheModelDirectory() throws Exception {
        Files.write(dir.getParent().resolve("outside-" + dir.getFileName() + ".bin"), new byte[64]);
        String outside = "outside-" + dir.getFileName() + ".bin";
        refused(external("w", OnnxType.FLOAT, "../" + outside, 0L, 48L, 4, 3), "escapes the model's directory");
        refused(external("w", OnnxType.FLOAT, "sub/../../" + outside, 0L, 48L, 4, 3), "escapes");
        refused(external("w", OnnxType.FLOAT, dir.resolve("weights.bin").toAbsolutePath().toString(), 0L, 48L, 4, 3),
                "escapes");
        refused(external("w", OnnxType.FLOAT, "..\\" + outside, 0L, 48L, 4, 3), "escapes");
        refused(external("w", OnnxType.FLOAT, "C:/x.bin", 0L, 48L, 4, 3), "escapes");
        refused(external("w", OnnxType.FLOAT, "", 0L, 48L, 4, 3), "no location");
        refused(external("w", OnnxType.FLOAT, "missing.bin", 0L, 48L, 4, 3), "does not exist");
    }

    @Test
    void refusesASymbolicLinkLeadingOutOfTheDirectory() throws Exception {
        Path outside = Files.createTempFile("arica-outside", ".bin");
        try {
            Files.write(outside, new byte[64]);
            Files.createSymbolicLink(dir.resolve("link.bin"), outside);
            refused(external("w", OnnxType.FLOAT, "link.bin", 0L, 48L, 4, 3), "symbolic link");
            // A link that stays inside the directory is fine.
            Files.createSymbolicLink(dir.resolve("inside.bin"), dir.resolve("weights.bin"));
            try (OnnxModel m = OnnxModel.open(withInitializer(external("w", OnnxType.FLOAT, "inside.bin", 0L, 48L, 4, 3)))) {
                assertEquals(48, m.data("w").byteSize());
            }
        } finally {
            Files.deleteIfExists(outside);
        }
    }

    @Test
    void refusesRangesOutsideTheDataFileAndInconsistentLengths() throws Exception {
        refused(external("w", OnnxType.FLOAT, "weights.bin", 4090L, 48L, 4, 3), "runs past the end", "4096 bytes");
        refused(external("w", OnnxType.FLOAT, "weights.bin", 1L << 40, null, 4, 3), "runs past the end");
        refused(external("w", OnnxType.FLOAT, "weights.bin", 0L, 47L, 4, 3), "length 47", "needs 48");
        refused(external("w", OnnxType.FLOAT, "weights.bin", 0L, 1L << 50, 1L << 30, 1L << 20), "length");
        refused(external("w", OnnxType.FLOAT, "weights.bin", -5L, 48L, 4, 3), "offset '-5'");
        TensorProto.Builder nonNumeric = external("w", OnnxType.FLOAT, "weights.bin", null, 48L, 4, 3)
                .addExternalData(OnnxFixtures.entry("offset", "12abc"));
        refused(nonNumeric, "not a non-negative integer");
    }

    @Test
    void refusesBadInlineInitializers() throws Exception {
        refused(raw("w", OnnxType.FLOAT, new byte[47], 4, 3), "raw_data holds 47 bytes", "needs 48");
        refused(raw("w", OnnxType.FLOAT, new byte[4], 1L << 40, 1L << 40), "too large");
        refused(raw("w", OnnxType.FLOAT, new byte[4], 1, -1), "negative dimension");
        refused(TensorProto.newBuilder().setName("w").setDataType(99).addDims(1), "unknown data_type 99");
        refused(TensorProto.newBuilder().setName("w").setDataType(OnnxType.FLOAT.code()).addDims(4), "holds 0 values");
        Path twice = write(dir.resolve("twice.onnx"), model(graph().addInitializer(raw("b", OnnxType.FLOAT, B, 3))
                .addInitializer(raw("b", OnnxType.FLOAT, B, 3))).build());
        assertFormatError(twice, "b", () -> OnnxModel.open(twice), "used twice");
    }

    @Test
    void errorMessagesAreOneLineNamingTheModelFile() throws Exception {
        Path m = withInitializer(external("w", OnnxType.FLOAT, "../x\nsecond line", 0L, 48L, 4, 3));
        FormatException e = assertThrows(FormatException.class, () -> OnnxModel.open(m));
        assertTrue(e.getMessage().startsWith(m + ": tensor 'w': "), e.getMessage());
        Path text = Files.write(dir.resolve("t.onnx"), "not\nprotobuf at all\n".getBytes(StandardCharsets.UTF_8));
        FormatException t = assertThrows(FormatException.class, () -> OnnxModel.open(text));
        assertFalse(t.getMessage().contains("\n"), t.getMessage());
    }
}
