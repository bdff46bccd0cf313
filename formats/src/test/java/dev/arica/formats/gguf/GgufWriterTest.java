package dev.arica.formats.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.testing.GgufTestFile;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GGUF container as written, read back by a parse written from gguf.md alone. */
class GgufWriterTest {

    @TempDir
    Path tmp;

    private static byte[] bytes(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 31 + seed);
        }
        return b;
    }

    @Test
    void metadataTensorInfosAndAlignedDataReadBack() throws IOException {
        GgufKeyValues kv = new GgufKeyValues().putString("general.architecture", "llama")
                .putUint32("llama.block_count", 0xffff_fffeL).putFloat32("x.eps", 1e-5f).putBool("x.flag", true)
                .putStringArray("x.tokens", List.of("a".getBytes(StandardCharsets.UTF_8), "\u2581b".getBytes(StandardCharsets.UTF_8),
                        new byte[0]))
                .putFloat32Array("x.scores", new float[] {0f, -1.5f}).putInt32Array("x.types", new int[] {1, -2, 6});
        kv.putUint32("llama.block_count", 5); // replaced in place
        List<GgufWriter.Entry> entries = List.of(new GgufWriter.Entry("a.weight", GgmlType.F32, new long[] {3}),
                new GgufWriter.Entry("b.weight", GgmlType.Q8_0, new long[] {2, 64}),
                new GgufWriter.Entry("c.weight", GgmlType.F16, new long[] {5, 3}));
        byte[] a = bytes(12, 1), b = bytes(2 * 2 * 34, 2), c = bytes(30, 3);
        Path out = tmp.resolve("m.gguf");
        try (GgufWriter w = GgufWriter.create(out, entries, kv)) {
            w.begin("a.weight");
            w.write(MemorySegment.ofArray(a));
            w.begin("b.weight");
            w.write(MemorySegment.ofArray(b).asSlice(0, 50));
            w.write(MemorySegment.ofArray(b).asSlice(50));
            w.begin("c.weight");
            w.write(MemorySegment.ofArray(c));
            assertFalse(Files.exists(out), "nothing at the destination before commit");
            w.commit();
        }
        GgufTestFile f = GgufTestFile.read(out);
        assertEquals(3, f.version());
        assertEquals(List.of("general.architecture", "llama.block_count", "x.eps", "x.flag", "x.tokens", "x.scores",
                "x.types"), List.copyOf(f.metadata().keySet()));
        assertEquals("llama", f.get("general.architecture"));
        assertEquals(4, f.metadata().get("llama.block_count").type());
        assertEquals(5L, f.get("llama.block_count"));
        assertEquals(1e-5f, f.get("x.eps"));
        assertEquals(true, f.get("x.flag"));
        assertEquals(List.of("a", "\u2581b", ""), f.get("x.tokens"));
        assertEquals(8, f.metadata().get("x.tokens").elementType());
        assertEquals(List.of(0f, -1.5f), f.get("x.scores"));
        assertEquals(5, f.metadata().get("x.types").elementType());
        assertEquals(List.of(1L, -2L, 6L), f.get("x.types"));

        assertEquals(0, f.dataStart() % 32);
        assertArrayEquals(new long[] {64, 2}, f.tensor("b.weight").dims(), "dims innermost first");
        assertArrayEquals(new long[] {3, 5}, f.tensor("c.weight").dims());
        assertEquals(8, f.tensor("b.weight").type());
        assertEquals(List.of(0L, 32L, 32L + 160), f.tensors().values().stream().map(GgufTestFile.TensorInfo::offset).toList(),
                "each tensor at the next multiple of 32");
        assertArrayEquals(a, f.tensor("a.weight").data());
        assertArrayEquals(b, f.tensor("b.weight").data());
        assertArrayEquals(c, f.tensor("c.weight").data());
        assertEquals(f.dataStart() + 224, f.fileBytes(), "the data section padded to 32 at the end");
    }

    @Test
    void refusesWhatGgmlCannotHoldAndMisorderedWrites() throws IOException {
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter.Entry("w", GgmlType.Q8_0, new long[] {4, 172}),
                "rows of 172 are not whole Q8_0 blocks");
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter.Entry("x".repeat(64), GgmlType.F32, new long[] {1}));
        assertThrows(IllegalArgumentException.class, () -> new GgufWriter.Entry("w", GgmlType.F32, new long[] {1, 1, 1, 1, 1}));
        assertThrows(IllegalArgumentException.class, () -> GgufWriter.create(tmp.resolve("d.gguf"), List.of(),
                new GgufKeyValues().putUint32(GgufKeys.ALIGNMENT, 64)));
        List<GgufWriter.Entry> two = List.of(new GgufWriter.Entry("a", GgmlType.F32, new long[] {1}),
                new GgufWriter.Entry("a", GgmlType.F32, new long[] {1}));
        assertThrows(IllegalArgumentException.class, () -> GgufWriter.create(tmp.resolve("e.gguf"), two, new GgufKeyValues()));

        Path out = tmp.resolve("m.gguf");
        List<GgufWriter.Entry> entries = List.of(new GgufWriter.Entry("a", GgmlType.F32, new long[] {2}),
                new GgufWriter.Entry("b", GgmlType.F32, new long[] {1}));
        try (GgufWriter w = GgufWriter.create(out, entries, new GgufKeyValues())) {
            assertThrows(IllegalStateException.class, () -> w.begin("b"), "b is not next");
            w.begin("a");
            assertThrows(IllegalStateException.class, () -> w.write(MemorySegment.ofArray(new byte[12])), "too long");
            w.write(MemorySegment.ofArray(new byte[4]));
            assertThrows(IllegalStateException.class, () -> w.begin("b"), "a is missing 4 bytes");
            assertThrows(IllegalStateException.class, w::commit);
        }
        assertFalse(Files.exists(out));
        try (Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".arica-tmp-")), "no temporaries left");
        }
    }
}
