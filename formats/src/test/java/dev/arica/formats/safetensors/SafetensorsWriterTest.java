package dev.arica.formats.safetensors;

import static dev.arica.formats.TestSupport.assertNoTemporaries;
import static dev.arica.formats.TestSupport.bytesOf;
import static dev.arica.formats.TestSupport.listNames;
import static dev.arica.formats.TestSupport.randomBytes;
import static dev.arica.formats.TestSupport.shape;
import static dev.arica.formats.TestSupport.temporaries;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {

    @TempDir
    Path dir;

    private static final List<TensorInfo> TWO = List.of(
            new TensorInfo("a", DType.F32, new long[] {4}),
            new TensorInfo("b", DType.I64, new long[] {2}));

    private static MemorySegment seg(byte[] b) {
        return MemorySegment.ofArray(b);
    }

    @Test
    void headerIsPaddedWithSpacesToAMultipleOfEight() throws Exception {
        int nonZeroPadding = 0;
        for (int len = 1; len <= 16; len++) {
            String name = "t".repeat(len);
            byte[] h = SafetensorsWriter.header(List.of(new TensorInfo(name, DType.F16, shape(3))), Map.of());
            assertEquals(0, h.length % 8, "header for name of length " + len);
            String text = new String(h, StandardCharsets.UTF_8);
            String json = text.stripTrailing();
            assertTrue(json.endsWith("}"), text);
            assertTrue(h.length - json.length() < 8, "at most 7 bytes of padding: '" + text + "'");
            assertEquals(" ".repeat(h.length - json.length()), text.substring(json.length()));
            nonZeroPadding += h.length != json.length() ? 1 : 0;
            JsonNode node = Json.parse(null, h, "header");
            assertEquals("[0,6]", node.get(name).get("data_offsets").toString());
        }
        assertTrue(nonZeroPadding >= 7, "names of 16 lengths should hit every padding amount");
    }

    @Test
    void writesLengthHeaderMetadataAndDataAsTheFormatSays() throws Exception {
        Path f = dir.resolve("out.safetensors");
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", "pt");
        meta.put("source", "tést");
        byte[] a = randomBytes(1, 16);
        byte[] b = randomBytes(2, 16);
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, meta)) {
            w.begin("a");
            w.write(seg(a));
            assertEquals(w.dataStart() + 16, w.position());
            w.begin("b");
            w.write(seg(b));
            w.commit();
            assertTrue(w.committed());
        }
        byte[] file = Files.readAllBytes(f);
        ByteBuffer bb = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        long n = bb.getLong(0);
        assertEquals(0, n % 8);
        assertEquals(8 + n + 32, file.length);
        assertEquals('{', file[8]);
        String header = new String(file, 8, (int) n, StandardCharsets.UTF_8);
        JsonNode root = Json.MAPPER.readTree(header);
        assertEquals("pt", root.get("__metadata__").get("format").textValue());
        assertEquals("tést", root.get("__metadata__").get("source").textValue());
        assertEquals("F32", root.get("a").get("dtype").textValue());
        assertEquals("[4]", root.get("a").get("shape").toString());
        assertEquals("[0,16]", root.get("a").get("data_offsets").toString());
        assertEquals("I64", root.get("b").get("dtype").textValue());
        assertEquals("[16,32]", root.get("b").get("data_offsets").toString());
        assertArrayEquals(a, java.util.Arrays.copyOfRange(file, (int) (8 + n), (int) (8 + n + 16)));
        assertArrayEquals(b, java.util.Arrays.copyOfRange(file, (int) (8 + n + 16), file.length));
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertEquals(meta, st.metadata());
        }
        assertEquals(List.of("out.safetensors"), listNames(dir));
    }

    @Test
    void noMetadataMeansNoMetadataEntry() throws Exception {
        byte[] h = SafetensorsWriter.header(TWO, Map.of());
        assertFalse(new String(h, StandardCharsets.UTF_8).contains("__metadata__"));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.header(
                List.of(TWO.get(0), TWO.get(0)), Map.of()));
        assertThrows(IllegalArgumentException.class, () -> SafetensorsWriter.header(
                List.of(new TensorInfo("__metadata__", DType.U8, shape(1))), Map.of()));
    }

    @Test
    void readBackIsBitExactForManyDtypes() throws Exception {
        List<TensorInfo> infos = List.of(
                new TensorInfo("f32", DType.F32, shape(3, 5)),
                new TensorInfo("f16", DType.F16, shape(7)),
                new TensorInfo("bf16", DType.BF16, shape(2, 3, 4)),
                new TensorInfo("f64.scalar", DType.F64, shape()),
                new TensorInfo("i32.empty", DType.I32, shape(0, 9)),
                new TensorInfo("i64", DType.I64, shape(3)),
                new TensorInfo("u8", DType.U8, shape(13)),
                new TensorInfo("i8", DType.I8, shape(1, 1)),
                new TensorInfo("bool", DType.BOOL, shape(5)),
                new TensorInfo("f8", DType.F8_E4M3, shape(6)),
                new TensorInfo("u16.scalar", DType.U16, shape()));
        Map<String, byte[]> content = new LinkedHashMap<>();
        long seed = 100;
        for (TensorInfo t : infos) {
            content.put(t.name(), randomBytes(seed++, (int) t.byteSize()));
        }
        Path f = dir.resolve("many.safetensors");
        SplittableRandom r = new SplittableRandom(7);
        ByteArrayOutputStream expectedData = new ByteArrayOutputStream();
        try (SafetensorsWriter w = SafetensorsWriter.create(f, infos, Map.of("format", "pt"))) {
            for (TensorInfo t : infos) {
                byte[] b = content.get(t.name());
                expectedData.writeBytes(b);
                w.begin(t.name());
                // Several writes of random lengths per tensor, empty ones included.
                int off = 0;
                while (off < b.length) {
                    int len = Math.min(b.length - off, r.nextInt(0, 6));
                    w.write(MemorySegment.ofArray(b).asSlice(off, len));
                    off += len;
                }
                w.write(MemorySegment.ofArray(new byte[0]));
            }
            w.commit();
        }
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertEquals(infos, st.tensors());
            for (TensorInfo t : infos) {
                assertArrayEquals(content.get(t.name()), bytesOf(st.tensor(t.name())), t.name());
            }
            byte[] file = Files.readAllBytes(f);
            byte[] data = java.util.Arrays.copyOfRange(file, (int) (8 + st.headerBytes()), file.length);
            assertArrayEquals(expectedData.toByteArray(), data);
        }
    }

    @Test
    void transferCopiesARangeOfAnotherFileIntoTheTensor() throws Exception {
        byte[] source = randomBytes(5, 100);
        Path src = Files.write(dir.resolve("src.bin"), source);
        Path f = dir.resolve("t.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of());
                java.nio.channels.FileChannel in = java.nio.channels.FileChannel.open(src)) {
            w.begin("a");
            w.transfer(in, 3, 10);
            w.transfer(in, 50, 6);
            assertThrows(IllegalStateException.class, () -> w.transfer(in, 0, 1), "the tensor is full");
            w.begin("b");
            assertThrows(java.io.EOFException.class, () -> w.transfer(in, 95, 16), "the source is too short");
        }
        assertFalse(Files.exists(f), "not committed");
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of());
                java.nio.channels.FileChannel in = java.nio.channels.FileChannel.open(src)) {
            w.begin("a");
            w.transfer(in, 3, 16);
            w.begin("b");
            w.transfer(in, 84, 16);
            w.commit();
        }
        try (SafetensorsFile r = SafetensorsFile.open(f)) {
            assertArrayEquals(java.util.Arrays.copyOfRange(source, 3, 19), bytesOf(r.tensor("a")));
            assertArrayEquals(java.util.Arrays.copyOfRange(source, 84, 100), bytesOf(r.tensor("b")));
            dev.arica.formats.io.FileRange at = r.location("b").orElseThrow();
            assertEquals(f, at.file());
            assertEquals(Files.size(f) - 16, at.offset());
            assertEquals(16, at.length());
        }
    }

    @Test
    void zeroTensorsWriteAValidFile() throws Exception {
        Path f = dir.resolve("none.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(f, List.of(), Map.of())) {
            w.commit();
        }
        assertEquals(16, Files.size(f), "8-byte length + '{}' padded to 8");
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertEquals(List.of(), st.tensors());
        }
    }

    @Test
    void beginOutOfOrderThrows() throws Exception {
        Path f = dir.resolve("o.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of())) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> w.begin("b"));
            assertTrue(e.getMessage().contains("b is not the next one declared"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> w.begin("nope"));
        }
        assertFalse(Files.exists(f));
        assertNoTemporaries(dir);
    }

    @Test
    void beginBeforeThePreviousTensorIsCompleteThrows() throws Exception {
        Path f = dir.resolve("o.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of())) {
            w.begin("a");
            w.write(seg(new byte[10]));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> w.begin("b"));
            assertTrue(e.getMessage().contains("a is missing 6 bytes"), e.getMessage());
        }
        assertFalse(Files.exists(f));
        assertNoTemporaries(dir);
    }

    @Test
    void writeBeyondTheTensorThrows() throws Exception {
        Path f = dir.resolve("o.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of())) {
            assertThrows(IllegalStateException.class, () -> w.write(seg(new byte[1])), "write before begin");
            w.begin("a");
            w.write(seg(new byte[12]));
            assertThrows(IllegalStateException.class, () -> w.write(seg(new byte[5])));
        }
        assertFalse(Files.exists(f));
        assertNoTemporaries(dir);
    }

    @Test
    void commitOfAnIncompleteTensorThrows() throws Exception {
        Path f = dir.resolve("o.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of())) {
            w.begin("a");
            w.write(seg(new byte[16]));
            w.begin("b");
            w.write(seg(new byte[15]));
            IllegalStateException e = assertThrows(IllegalStateException.class, w::commit);
            assertTrue(e.getMessage().contains("tensor b was not written completely"), e.getMessage());
        }
        assertFalse(Files.exists(f));
        assertNoTemporaries(dir);
    }

    @Test
    void commitWithATensorNeverBegunThrows() throws Exception {
        Path f = dir.resolve("o.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of())) {
            w.begin("a");
            w.write(seg(new byte[16]));
            IllegalStateException e = assertThrows(IllegalStateException.class, w::commit);
            assertTrue(e.getMessage().contains("tensor b was not written completely"), e.getMessage());
        }
        assertFalse(Files.exists(f));
        assertNoTemporaries(dir);
    }

    @Test
    void closeWithoutCommitLeavesNothing() throws Exception {
        Path f = dir.resolve("o.safetensors");
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of())) {
            w.begin("a");
            w.write(seg(new byte[16]));
            w.begin("b");
            w.write(seg(new byte[16]));
            // A temporary exists while writing, never the destination.
            assertEquals(1, temporaries(dir).size(), listNames(dir).toString());
            assertFalse(Files.exists(f));
        }
        assertFalse(Files.exists(f));
        assertEquals(List.of(), listNames(dir));
    }

    @Test
    void exceptionMidWriteLeavesNothing() throws Exception {
        Path f = dir.resolve("o.safetensors");
        RuntimeException boom = assertThrows(IllegalStateException.class, () -> {
            try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of())) {
                w.begin("a");
                w.write(seg(new byte[8]));
                w.write(seg(new byte[8]));
                w.begin("b");
                w.write(seg(new byte[9]));
                w.write(seg(new byte[9])); // too many bytes: thrown mid-write
                w.commit();
            }
        });
        assertTrue(boom.getMessage().contains("does not fit"), boom.getMessage());
        assertFalse(Files.exists(f));
        assertEquals(List.of(), listNames(dir));
    }

    @Test
    void existingDestinationIsUntouchedUntilCommit() throws Exception {
        Path f = dir.resolve("o.safetensors");
        byte[] old = "previous content".getBytes(StandardCharsets.UTF_8);
        Files.write(f, old);
        byte[] a = randomBytes(3, 16);
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of())) {
            w.begin("a");
            w.write(seg(a));
            w.begin("b");
            w.write(seg(new byte[16]));
            assertArrayEquals(old, Files.readAllBytes(f), "before commit");
            w.commit();
        }
        try (SafetensorsFile st = SafetensorsFile.open(f)) {
            assertArrayEquals(a, bytesOf(st.tensor("a")));
        }
        assertEquals(List.of("o.safetensors"), listNames(dir));
    }

    @Test
    void existingDestinationIsUntouchedWhenAborted() throws Exception {
        Path f = dir.resolve("o.safetensors");
        byte[] old = "previous content".getBytes(StandardCharsets.UTF_8);
        Files.write(f, old);
        try (SafetensorsWriter w = SafetensorsWriter.create(f, TWO, Map.of())) {
            w.begin("a");
            w.write(seg(new byte[16]));
        }
        assertArrayEquals(old, Files.readAllBytes(f));
        assertEquals(List.of("o.safetensors"), listNames(dir));
    }

    @Test
    void atomicOutputDirectoryAbortAndCommit() throws Exception {
        Path out = dir.resolve("outdir");
        try (AtomicOutput a = AtomicOutput.directory(out, false)) {
            Files.writeString(a.temp().resolve("x.txt"), "x");
            assertTrue(a.temp().getFileName().toString().contains(AtomicOutput.TEMP_MARK));
        }
        assertEquals(List.of(), listNames(dir));
        try (AtomicOutput a = AtomicOutput.directory(out, false)) {
            Files.writeString(a.temp().resolve("x.txt"), "x");
            a.commit();
        }
        assertEquals(List.of("x.txt"), listNames(out));
        assertThrows(java.nio.file.DirectoryNotEmptyException.class, () -> AtomicOutput.directory(out, false));
        try (AtomicOutput a = AtomicOutput.directory(out, true)) {
            Files.writeString(a.temp().resolve("y.txt"), "y");
            assertEquals(List.of("x.txt"), listNames(out), "old directory kept until commit");
            a.commit();
        }
        assertEquals(List.of("y.txt"), listNames(out));
        assertEquals(List.of("outdir"), listNames(dir), "no temporary or old directory left beside it");
    }
}
