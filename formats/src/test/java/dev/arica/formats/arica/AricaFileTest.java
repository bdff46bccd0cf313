package dev.arica.formats.arica;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AricaFileTest {
    @TempDir
    Path dir;

    private static final QuantLayout Q4 = QuantLayout.of(Scheme.Q4_0);

    private static byte[] randomBytes(long n, long seed) {
        byte[] b = new byte[(int) n];
        new Random(seed).nextBytes(b);
        return b;
    }

    /** A file with a plain F32 tensor, a q4_0-stored tensor (compressed or not) and an embedded file. */
    private Path sample(boolean compress) throws IOException {
        Path p = dir.resolve(compress ? "z.arica" : "m.arica");
        try (AricaWriter w = AricaWriter.create(p)) {
            w.begin("norm", DType.F32, new long[] {3}, new Storage.Plain(DType.F32), 0);
            w.write(MemorySegment.ofArray(randomBytes(12, 1)));
            w.end();
            Storage q = new Storage.Quantized(Q4);
            long raw = q.rawBytes(new long[] {4, 40});
            assertEquals(4 * 2 * 18, raw);
            w.begin("proj", DType.F32, new long[] {4, 40}, q, compress ? 3 : 0);
            byte[] data = new byte[(int) raw];
            java.util.Arrays.fill(data, 0, data.length / 2, (byte) 7);
            w.write(MemorySegment.ofArray(data));
            w.end();
            w.addFile("tokenizer.llama2c.bin", "tok".getBytes(StandardCharsets.UTF_8));
            ObjectNode cfg = Json.MAPPER.createObjectNode().put("model_type", "llama");
            w.commit(cfg, Json.MAPPER.createObjectNode().put("arica_version", "test"), Map.of("k", "v"));
        }
        return p;
    }

    @Test
    void roundTripsEntriesDataAndMetadata() throws IOException {
        for (boolean compress : new boolean[] {false, true}) {
            Path p = sample(compress);
            try (AricaFile f = AricaFile.open(p); Arena a = Arena.ofConfined()) {
                assertEquals(List.of("norm", "proj"), f.entries().stream().map(AricaEntry::name).toList());
                AricaEntry norm = f.entry("norm").orElseThrow();
                assertArrayEquals(randomBytes(12, 1), f.raw(norm, a).toArray(ValueLayout.JAVA_BYTE));
                AricaEntry proj = f.entry("proj").orElseThrow();
                assertEquals(compress, proj.compressed());
                assertEquals(0, proj.offset() % 64);
                byte[] back = f.raw(proj, a).toArray(ValueLayout.JAVA_BYTE);
                assertEquals(144, back.length);
                assertEquals(7, back[0]);
                assertEquals(0, back[143]);
                if (compress) {
                    assertTrue(proj.length() < proj.rawLength(), "compressible data must shrink");
                }
                assertEquals("llama", f.config().orElseThrow().get("model_type").asText());
                assertEquals("v", f.index().get("user").get("k").asText());
                assertEquals("tok", new String(f.auxFiles().getFirst().content(), StandardCharsets.UTF_8));
                assertEquals(Optional.empty(), f.verify(Progress.NONE));
            }
        }
    }

    /** {@link #sample} with one bit of the stored "proj" tensor flipped. */
    private Path sampleWithAFlippedByteInProj() throws IOException {
        Path p = sample(false);
        long off;
        try (AricaFile f = AricaFile.open(p)) {
            off = f.entry("proj").orElseThrow().offset() + 5;
        }
        byte[] all = Files.readAllBytes(p);
        all[(int) off] ^= 0x10;
        Files.write(p, all);
        return p;
    }

    @Test
    void copyWritesStoredBytesUnchangedUnderANewName() throws IOException {
        for (boolean compress : new boolean[] {false, true}) {
            Path src = sample(compress);
            Path out = dir.resolve("copy-" + compress + ".arica");
            try (AricaFile in = AricaFile.open(src); AricaWriter w = AricaWriter.create(out)) {
                AricaEntry proj = in.entry("proj").orElseThrow();
                AricaEntry a = w.copy(in, proj, "first");
                AricaEntry b = w.copy(in, proj, "second");
                assertEquals(proj.crc32c(), a.crc32c());
                assertEquals(0, b.offset() % 64);
                assertThrows(IllegalArgumentException.class, () -> w.copy(in, proj, "first"));
                w.commit(null, null, Map.of());
            }
            try (AricaFile in = AricaFile.open(src); AricaFile f = AricaFile.open(out)) {
                AricaEntry proj = in.entry("proj").orElseThrow();
                byte[] stored = in.stored(proj).toArray(ValueLayout.JAVA_BYTE);
                for (String name : List.of("first", "second")) {
                    AricaEntry e = f.entry(name).orElseThrow();
                    assertArrayEquals(stored, f.stored(e).toArray(ValueLayout.JAVA_BYTE), name);
                    assertEquals(proj.storage(), e.storage());
                    assertEquals(compress, e.compressed());
                    assertEquals(proj.rawLength(), e.rawLength());
                }
                assertEquals(Optional.empty(), f.verify(Progress.NONE));
            }
        }
    }

    @Test
    void copyRefusesACorruptSourceTensor() throws IOException {
        Path p = sampleWithAFlippedByteInProj();
        Path out = dir.resolve("copy.arica");
        try (AricaFile in = AricaFile.open(p); AricaWriter w = AricaWriter.create(out)) {
            FormatException e = assertThrows(FormatException.class, () -> w.copy(in, in.entry("proj").orElseThrow(), "x"));
            assertEquals("proj", e.tensor());
            assertTrue(e.getMessage().contains("checksum"), e.getMessage());
        }
        assertFalse(Files.exists(out));
    }

    @Test
    void verifyNamesTheTensorWithAFlippedByte() throws IOException {
        Path p = sampleWithAFlippedByteInProj();
        try (AricaFile f = AricaFile.open(p)) {
            AricaFile.Problem problem = f.verify(Progress.NONE).orElseThrow();
            assertEquals("proj", problem.tensor());
            assertTrue(problem.what().contains("checksum"), problem.what());
        }
    }

    @Test
    void verifyFindsCorruptCompressedData() throws IOException {
        Path p = sample(true);
        long off;
        try (AricaFile f = AricaFile.open(p)) {
            off = f.entry("proj").orElseThrow().offset() + 2;
        }
        byte[] all = Files.readAllBytes(p);
        all[(int) off] ^= 0x01;
        Files.write(p, all);
        try (AricaFile f = AricaFile.open(p)) {
            assertEquals("proj", f.verify(Progress.NONE).orElseThrow().tensor());
        }
    }

    @Test
    void truncatedFileIsRefused() throws IOException {
        Path p = sample(false);
        byte[] all = Files.readAllBytes(p);
        Files.write(p, java.util.Arrays.copyOf(all, all.length - 10));
        FormatException e = assertThrows(FormatException.class, () -> AricaFile.open(p));
        assertTrue(e.getMessage().startsWith(p.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("trailer is missing"), e.getMessage());
        Files.write(p, java.util.Arrays.copyOf(all, 40));
        assertTrue(assertThrows(FormatException.class, () -> AricaFile.open(p)).getMessage().contains("too short"));
    }

    @Test
    void newerMajorVersionIsRefused() throws IOException {
        Path p = sample(false);
        byte[] all = Files.readAllBytes(p);
        all[8] = 4;
        Files.write(p, all);
        FormatException e = assertThrows(FormatException.class, () -> AricaFile.open(p));
        assertTrue(e.getMessage().contains("version 4.0 is newer"), e.getMessage());
    }

    /** A file of one F32 tensor stored as {@code q}, its stored bytes the concatenation of {@code parts}. */
    private static void writeOne(Path p, String name, long[] shape, Storage q, byte[]... parts) throws IOException {
        try (AricaWriter w = AricaWriter.create(p)) {
            w.begin(name, DType.F32, shape, q, 0);
            for (byte[] part : parts) {
                w.write(MemorySegment.ofArray(part));
            }
            w.end();
            w.commit(null, Json.MAPPER.createObjectNode(), Map.of());
        }
    }

    /** {@code p} with its header's major version set to {@code major} is refused, naming {@code tensor}. */
    private static void refusedAtVersion(Path p, int major, String tensor, String words) throws IOException {
        byte[] all = Files.readAllBytes(p);
        all[8] = (byte) major;
        Files.write(p, all);
        FormatException e = assertThrows(FormatException.class, () -> AricaFile.open(p));
        assertEquals(tensor, e.tensor());
        assertTrue(e.getMessage().contains(words), e.getMessage());
    }

    /** A Conv1D [in, out] weight stored as its transpose: version 2, raw bytes of the transposed rows. */
    @Test
    void aTransposedTensorMakesAVersion2File() throws IOException {
        Path p = dir.resolve("t.arica");
        Storage q = new Storage.Quantized(Q4, true);
        long raw = q.rawBytes(new long[] {40, 4});
        assertEquals(4 * 2 * 18, raw, "4 rows of 40 columns, padded to two groups");
        writeOne(p, "conv1d", new long[] {40, 4}, q, randomBytes(raw, 3));
        assertEquals(2, Files.readAllBytes(p)[8], "major version in the header");
        try (AricaFile f = AricaFile.open(p)) {
            assertEquals("2.0", f.index().get("format_version").asText());
            AricaEntry e = f.entry("conv1d").orElseThrow();
            assertEquals(q, e.storage());
            assertArrayEquals(new long[] {40, 4}, e.shape(), "the logical shape");
        }
        refusedAtVersion(p, 1, "conv1d", "is stored transposed in a version 1 file");
        Path plain = sample(false);
        assertEquals(1, Files.readAllBytes(plain)[8], "files without transposed tensors stay version 1");
    }

    /** A weight whose input features are stored in another order: version 3, its column order after the rows. */
    @Test
    void aPermutedTensorMakesAVersion3FileAndItsOrderIsChecked() throws IOException {
        Path p = dir.resolve("p.arica");
        QuantLayout int4 = new QuantLayout(Scheme.INT4, 16, true);
        Storage q = new Storage.Quantized(int4, false, true);
        long[] shape = {3, 32};
        assertEquals(int4.bytes(3, 32) + 32 * 4, q.rawBytes(shape), "the rows, then 32 int32");
        int[] order = new int[32];
        for (int j = 0; j < 32; j++) {
            order[j] = (j * 5) % 32;
        }
        byte[] rows = randomBytes(int4.bytes(3, 32), 4);
        ByteBuffer orderBytes = ByteBuffer.allocate(32 * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int o : order) {
            orderBytes.putInt(o);
        }
        writeOne(p, "gptq", shape, q, rows, orderBytes.array());
        assertEquals(3, Files.readAllBytes(p)[8], "major version in the header");
        try (AricaFile f = AricaFile.open(p)) {
            assertEquals("3.0", f.index().get("format_version").asText());
            AricaEntry e = f.entry("gptq").orElseThrow();
            assertEquals(q, e.storage());
            ColumnOrder read = f.columnOrder(e, f.stored(e)).orElseThrow();
            for (int j = 0; j < 32; j++) {
                assertEquals(order[j], read.get(j));
            }
            assertEquals(Optional.empty(), f.verify(Progress.NONE));
        }
        refusedAtVersion(p, 2, "gptq", "is stored permuted in a version 2 file");

        // Stored column 1 claims logical column 0 a second time: refused where it is read, named by verify.
        byte[] all = Files.readAllBytes(p);
        all[8] = 3;
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putInt(64 + rows.length + 4, 0);
        Files.write(p, all);
        editIndex(p, idx -> {
            CRC32C crc = new CRC32C();
            crc.update(all, 64, rows.length + 32 * 4);
            tensor(idx, 0).put("crc32c", crc.getValue());
        });
        try (AricaFile f = AricaFile.open(p)) {
            AricaEntry e = f.entry("gptq").orElseThrow();
            FormatException bad = assertThrows(FormatException.class, () -> f.columnOrder(e, f.stored(e)));
            assertTrue(bad.getMessage().contains("column 0 appears twice"), bad.getMessage());
            assertEquals("gptq", f.verify(Progress.NONE).orElseThrow().tensor());
        }
        assertThrows(IllegalArgumentException.class, () -> new Storage.Quantized(int4, true, true),
                "transposed and permuted exclude each other");
    }

    @Test
    void badMagicIsRefused() throws IOException {
        Path p = sample(false);
        byte[] all = Files.readAllBytes(p);
        all[0] = 'X';
        Files.write(p, all);
        assertTrue(assertThrows(FormatException.class, () -> AricaFile.open(p)).getMessage().contains("bad magic"));
    }

    @Test
    void corruptIndexIsRefusedByChecksum() throws IOException {
        Path p = sample(false);
        byte[] all = Files.readAllBytes(p);
        ByteBuffer t = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int indexOffset = (int) t.getLong(all.length - 64 + 8);
        all[indexOffset + 3] ^= 1;
        Files.write(p, all);
        assertTrue(assertThrows(FormatException.class, () -> AricaFile.open(p)).getMessage().contains("index checksum"));
    }

    @Test
    void lyingIndexLengthDoesNotAllocate() throws IOException {
        Path p = sample(false);
        byte[] all = Files.readAllBytes(p);
        ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN).putLong(all.length - 64 + 16, Long.MAX_VALUE / 2);
        Files.write(p, all);
        assertTrue(assertThrows(FormatException.class, () -> AricaFile.open(p)).getMessage().contains("outside"));
    }

    /** Rewrites the index of {@code p} through {@code edit}, with a valid checksum, so structure checks are reached. */
    private static void editIndex(Path p, java.util.function.Consumer<ObjectNode> edit) throws IOException {
        byte[] all = Files.readAllBytes(p);
        ByteBuffer t = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int off = (int) t.getLong(all.length - 64 + 8);
        int len = (int) t.getLong(all.length - 64 + 16);
        ObjectNode idx = (ObjectNode) Json.MAPPER.readTree(java.util.Arrays.copyOfRange(all, off, off + len));
        edit.accept(idx);
        byte[] json = idx.toString().getBytes(StandardCharsets.UTF_8);
        CRC32C crc = new CRC32C();
        crc.update(json);
        ByteBuffer out = ByteBuffer.allocate(off + json.length + 64).order(ByteOrder.LITTLE_ENDIAN);
        out.put(all, 0, off).put(json).put(all, all.length - 64, 8).putLong(off).putLong(json.length).putInt((int) crc.getValue());
        Files.write(p, out.array());
    }

    private static ObjectNode tensor(ObjectNode idx, int i) {
        return (ObjectNode) idx.get("tensors").get(i);
    }

    @Test
    void tablePointingPastTheEndIsRefused() throws IOException {
        Path p = sample(false);
        editIndex(p, idx -> tensor(idx, 1).put("offset", 1L << 40));
        FormatException e = assertThrows(FormatException.class, () -> AricaFile.open(p));
        assertEquals("proj", e.tensor());
        assertTrue(e.getMessage().contains("outside the data region"), e.getMessage());
    }

    @Test
    void unknownStorageTypeIsRefused() throws IOException {
        Path p = sample(false);
        editIndex(p, idx -> tensor(idx, 1).put("storage", "q3_k"));
        FormatException e = assertThrows(FormatException.class, () -> AricaFile.open(p));
        assertTrue(e.getMessage().contains("unknown storage type 'q3_k'"), e.getMessage());
        assertEquals("proj", e.tensor());
    }

    @Test
    void lengthInconsistentWithShapeIsRefused() throws IOException {
        Path p = sample(false);
        editIndex(p, idx -> tensor(idx, 1).putArray("shape").add(4).add(72));
        FormatException e = assertThrows(FormatException.class, () -> AricaFile.open(p));
        assertTrue(e.getMessage().contains("raw_length 144 does not match shape [4, 72]"), e.getMessage());
    }

    @Test
    void overlappingBlobsAreRefused() throws IOException {
        Path p = sample(false);
        editIndex(p, idx -> tensor(idx, 1).put("offset", tensor(idx, 0).get("offset").longValue()));
        assertTrue(assertThrows(FormatException.class, () -> AricaFile.open(p)).getMessage().contains("overlaps"));
    }

    @Test
    void embeddedFileNameMayNotEscape() throws IOException {
        Path p = sample(false);
        editIndex(p, idx -> ((ObjectNode) idx.get("files").get(0)).put("name", "../evil"));
        assertTrue(assertThrows(FormatException.class, () -> AricaFile.open(p)).getMessage().contains("not a plain file name"));
    }

    @Test
    void abortedWriteLeavesNothing() throws IOException {
        Path p = dir.resolve("never.arica");
        try (AricaWriter w = AricaWriter.create(p)) {
            w.begin("t", DType.F32, new long[] {4}, new Storage.Plain(DType.F32), 0);
            w.write(MemorySegment.ofArray(new byte[8]));
            // no end, no commit: an error in the middle of a run
        }
        assertFalse(Files.exists(p));
        try (Stream<Path> s = Files.list(dir)) {
            assertTrue(s.noneMatch(x -> x.getFileName().toString().contains(AtomicOutput.TEMP_MARK)));
        }
    }
}
