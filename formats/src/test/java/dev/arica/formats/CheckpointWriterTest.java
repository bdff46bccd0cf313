package dev.arica.formats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The default {@link CheckpointWriter#transfer}, for writers that do not copy file to file. */
class CheckpointWriterTest {

    @TempDir
    Path dir;

    /** Collects what is written. */
    private static final class Collecting implements CheckpointWriter {
        final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public void begin(String name) {}

        @Override
        public void write(MemorySegment b) {
            bytes.writeBytes(b.toArray(ValueLayout.JAVA_BYTE));
        }

        @Override
        public void commit() {}

        @Override
        public void close() {}
    }

    @Test
    void defaultTransferReadsTheRangeThroughABuffer() throws Exception {
        byte[] source = TestSupport.randomBytes(3, (3 << 20) + 17);
        Path file = Files.write(dir.resolve("src.bin"), source);
        Collecting w = new Collecting();
        try (FileChannel in = FileChannel.open(file)) {
            w.transfer(in, 5, (2 << 20) + 9);
            w.transfer(in, 0, 0);
            assertArrayEquals(Arrays.copyOfRange(source, 5, 5 + (2 << 20) + 9), w.bytes.toByteArray());
            assertThrows(EOFException.class, () -> w.transfer(in, source.length - 4, 8));
        }
    }
}
