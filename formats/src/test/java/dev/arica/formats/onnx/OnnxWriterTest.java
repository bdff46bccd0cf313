package dev.arica.formats.onnx;

import static dev.arica.formats.TestSupport.assertNoTemporaries;
import static dev.arica.formats.TestSupport.listNames;
import static dev.arica.formats.TestSupport.randomBytes;
import static dev.arica.formats.onnx.OnnxFixtures.graph;
import static dev.arica.formats.onnx.OnnxFixtures.model;
import static dev.arica.formats.onnx.OnnxFixtures.raw;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.StringStringEntryProto;
import dev.arica.formats.onnx.proto.TensorProto;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxWriterTest {

    @TempDir
    Path dir;

    /** Initializers of sizes around the threshold, with seeded contents. */
    private static Map<TensorInfo, byte[]> tensors() {
        Map<TensorInfo, byte[]> t = new LinkedHashMap<>();
        t.put(new TensorInfo("big.a", DType.F32, new long[] {33, 17}), randomBytes(1, 33 * 17 * 4));
        t.put(new TensorInfo("small.norm", DType.F32, new long[] {64}), randomBytes(2, 256));
        t.put(new TensorInfo("exact.threshold", DType.U8, new long[] {1024}), randomBytes(3, 1024));
        t.put(new TensorInfo("just.over", DType.U8, new long[] {1025}), randomBytes(4, 1025));
        t.put(new TensorInfo("half", DType.F16, new long[] {2, 1000}), randomBytes(5, 4000));
        t.put(new TensorInfo("ids", DType.I64, new long[] {3}), randomBytes(6, 24));
        t.put(new TensorInfo("empty", DType.F32, new long[] {0, 5}), new byte[0]);
        return t;
    }

    private static void writeAll(OnnxWriter w, Map<TensorInfo, byte[]> tensors, int chunk) throws Exception {
        for (Map.Entry<TensorInfo, byte[]> e : tensors.entrySet()) {
            w.begin(e.getKey().name());
            byte[] b = e.getValue();
            // Several writes per tensor: the writer must not assume one write per initializer.
            for (int off = 0; off < b.length; off += chunk) {
                w.write(MemorySegment.ofArray(Arrays.copyOfRange(b, off, Math.min(b.length, off + chunk))));
            }
        }
    }

    @Test
    void largeInitializersGoToAlignedExternalDataAndSmallOnesInline() throws Exception {
        Map<TensorInfo, byte[]> tensors = tensors();
        ModelProto m = model(graph().addInitializer(raw("b", OnnxType.FLOAT, new byte[12], 3))).build();
        Path file = dir.resolve("model.onnx");
        try (OnnxWriter w = OnnxWriter.create(file, m, List.copyOf(tensors.keySet()), OnnxWriter.Options.defaults())) {
            assertEquals("model.onnx.data", w.dataFileName());
            assertTrue(w.isExternal("just.over"));
            assertFalse(w.isExternal("exact.threshold"));
            writeAll(w, tensors, 1000);
            w.commit();
        }
        assertEquals(List.of("model.onnx", "model.onnx.data"), listNames(dir));

        // Read back with the generated classes alone, and the data file as plain bytes.
        ModelProto back = ModelProto.parseFrom(Files.readAllBytes(file));
        byte[] data = Files.readAllBytes(dir.resolve("model.onnx.data"));
        assertEquals(m.getGraph().getNodeList(), back.getGraph().getNodeList());
        assertEquals(1 + tensors.size(), back.getGraph().getInitializerCount());
        assertEquals("b", back.getGraph().getInitializer(0).getName());
        long end = 0;
        int i = 1;
        for (Map.Entry<TensorInfo, byte[]> e : tensors.entrySet()) {
            TensorProto t = back.getGraph().getInitializer(i++);
            TensorInfo info = e.getKey();
            assertEquals(info.name(), t.getName());
            assertEquals(OnnxType.of(info.dtype()).code(), t.getDataType());
            assertEquals(Arrays.stream(info.shape()).boxed().toList(), t.getDimsList());
            if (info.byteSize() > 1024) {
                assertEquals(TensorProto.DataLocation.EXTERNAL, t.getDataLocation(), info.name());
                Map<String, String> ext = new LinkedHashMap<>();
                for (StringStringEntryProto kv : t.getExternalDataList()) {
                    ext.put(kv.getKey(), kv.getValue());
                }
                assertEquals("model.onnx.data", ext.get("location"));
                long offset = Long.parseLong(ext.get("offset"));
                assertEquals(0, offset % 4096, info.name() + " offset aligned");
                assertTrue(offset >= end, "no overlap");
                assertEquals(info.byteSize(), Long.parseLong(ext.get("length")));
                assertArrayEquals(e.getValue(), Arrays.copyOfRange(data, (int) offset, (int) (offset + info.byteSize())));
                end = offset + info.byteSize();
            } else {
                assertFalse(t.hasDataLocation() && t.getDataLocation() == TensorProto.DataLocation.EXTERNAL);
                assertArrayEquals(e.getValue(), t.getRawData().toByteArray(), info.name());
            }
        }
        assertEquals(end, data.length, "the data file ends with the last tensor");
        assertTrue(Files.size(file) < 4096, "the model file holds only the graph and small tensors");

        // And through the reader.
        try (OnnxModel onnx = OnnxModel.open(file)) {
            for (Map.Entry<TensorInfo, byte[]> e : tensors.entrySet()) {
                OnnxModel.Initializer init = onnx.initializer(e.getKey().name()).orElseThrow();
                assertEquals(e.getKey(), init.info().orElseThrow());
                assertEquals(e.getKey().byteSize() > 1024, init.external());
                assertArrayEquals(e.getValue(), onnx.data(init.name()).toArray(ValueLayout.JAVA_BYTE));
            }
        }
    }

    @Test
    void thresholdAndAlignmentAreConfigurable() throws Exception {
        Map<TensorInfo, byte[]> tensors = tensors();
        Path file = dir.resolve("m.onnx");
        try (OnnxWriter w = OnnxWriter.create(file, model(graph()).build(), List.copyOf(tensors.keySet()),
                new OnnxWriter.Options(16, 64))) {
            writeAll(w, tensors, 7);
            w.commit();
        }
        try (OnnxModel onnx = OnnxModel.open(file)) {
            for (OnnxModel.Initializer init : onnx.initializers()) {
                assertEquals(init.bytes() > 16, init.external(), init.name());
                if (init.external()) {
                    assertEquals("m.onnx.data", init.location());
                    assertEquals(0, init.offset() % 64);
                }
            }
        }
        Path inline = dir.resolve("all-inline.onnx");
        try (OnnxWriter w = OnnxWriter.create(inline, model(graph()).build(), List.copyOf(tensors.keySet()),
                new OnnxWriter.Options(Long.MAX_VALUE, 64))) {
            writeAll(w, tensors, 100);
            w.commit();
        }
        assertFalse(Files.exists(dir.resolve("all-inline.onnx.data")), "no data file when nothing is external");
        try (OnnxModel onnx = OnnxModel.open(inline)) {
            assertTrue(onnx.initializers().stream().noneMatch(OnnxModel.Initializer::external));
        }
        assertThrows(IllegalArgumentException.class, () -> new OnnxWriter.Options(1024, 48));
        assertThrows(IllegalArgumentException.class, () -> new OnnxWriter.Options(-1, 64));
    }

    @Test
    void nothingAppearsWithoutCommit() throws Exception {
        Map<TensorInfo, byte[]> tensors = tensors();
        Path file = dir.resolve("model.onnx");
        try (OnnxWriter w = OnnxWriter.create(file, model(graph()).build(), List.copyOf(tensors.keySet()),
                OnnxWriter.Options.defaults())) {
            w.begin("big.a");
            w.write(MemorySegment.ofArray(tensors.values().iterator().next()));
            assertThrows(IllegalStateException.class, () -> w.begin("ids"), "out of order");
            assertThrows(IllegalStateException.class, w::commit, "incomplete");
        }
        assertEquals(List.of(), listNames(dir));
        assertNoTemporaries(dir);
    }

    @Test
    void refusesMisuse() throws Exception {
        TensorInfo a = new TensorInfo("a", DType.F32, new long[] {2});
        ModelProto m = model(graph().addInitializer(raw("a", OnnxType.FLOAT, new byte[8], 2))).build();
        assertThrows(IllegalArgumentException.class,
                () -> OnnxWriter.create(dir.resolve("x.onnx"), m, List.of(a), OnnxWriter.Options.defaults()));
        assertThrows(IllegalArgumentException.class, () -> OnnxWriter.create(dir.resolve("y.onnx"),
                model(graph()).build(), List.of(a, a), OnnxWriter.Options.defaults()));
        try (OnnxWriter w = OnnxWriter.create(dir.resolve("z.onnx"), model(graph()).build(), List.of(a),
                OnnxWriter.Options.defaults())) {
            w.begin("a");
            assertThrows(IllegalStateException.class, () -> w.write(MemorySegment.ofArray(new byte[9])));
        }
        assertNoTemporaries(dir);
    }
}
