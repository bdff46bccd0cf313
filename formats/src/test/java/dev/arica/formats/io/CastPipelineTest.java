package dev.arica.formats.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.Tensor;
import dev.arica.formats.TestSupport.RecordingWriter;
import dev.arica.formats.TestSupport.St;
import dev.arica.formats.safetensors.SafetensorsFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Chunks read from the file ({@link SourceChannels}) give the same bytes as chunks read through the mapping, for
 * copies and casts, over more than one chunk and a partial last one.
 */
class CastPipelineTest {
    @TempDir
    Path tmp;

    @Test
    void readingTheFileGivesWhatTheMappingGives() throws IOException {
        long n = CastPipeline.CHUNK_ELEMENTS + 1000; // two chunks, the second partial
        Path file = new St().random("a", DType.F32, new long[] {n}, 1).random("b", DType.BF16, new long[] {n}, 2)
                .writeTo(tmp.resolve("m.safetensors"));
        try (SafetensorsFile in = SafetensorsFile.open(file)) {
            for (String name : new String[] {"a", "b"}) {
                Tensor t = in.tensor(name);
                FileRange location = in.location(name).orElseThrow();
                for (DType to : new DType[] {t.info().dtype(), DType.F16, DType.F32}) {
                    RecordingWriter mapped = new RecordingWriter();
                    RecordingWriter read = new RecordingWriter();
                    try (CastPipeline p = new CastPipeline(mapped, Progress.NONE)) {
                        run(p, t, to, null);
                    }
                    try (CastPipeline p = new CastPipeline(read, Progress.NONE)) {
                        run(p, t, to, location);
                    }
                    byte[] expected = mapped.tensors.get(name).toByteArray();
                    assertEquals(to.bytesFor(n), expected.length, name + " -> " + to);
                    assertArrayEquals(expected, read.tensors.get(name).toByteArray(), name + " -> " + to);
                }
            }
        }
    }

    private static void run(CastPipeline p, Tensor t, DType to, FileRange location) throws IOException {
        if (to == t.info().dtype()) {
            p.copy(t, location);
        } else {
            p.cast(t, to, location);
        }
        p.drain();
    }

    @Test
    void aReadOutsideTheRangeOrPastTheEndIsRefused() throws IOException {
        Path file = new St().random("a", DType.F32, new long[] {64}, 3).writeTo(tmp.resolve("s.safetensors"));
        try (SafetensorsFile in = SafetensorsFile.open(file); SourceChannels reads = new SourceChannels();
                Arena arena = Arena.ofConfined()) {
            FileRange r = in.location("a").orElseThrow();
            FileChannel ch = reads.of(file);
            assertTrue(ch == reads.of(file), "one channel per file");
            MemorySegment dst = arena.allocate(256);
            SourceChannels.read(ch, r, 0, dst);
            assertArrayEquals(in.tensor("a").parts().getFirst().toArray(ValueLayout.JAVA_BYTE),
                    dst.toArray(ValueLayout.JAVA_BYTE));
            assertThrows(IllegalArgumentException.class, () -> SourceChannels.read(ch, r, 4, dst));
            FileRange beyond = new FileRange(file, r.offset() + 200, 256);
            UncheckedIOException e = assertThrows(UncheckedIOException.class,
                    () -> SourceChannels.read(ch, beyond, 0, dst));
            assertTrue(e.getMessage().contains("ends before byte"), e::getMessage);
        }
    }
}
