package dev.arica.formats;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.EOFException;
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

    @Test
    void defaultTransferReadsTheRangeThroughABuffer() throws Exception {
        byte[] source = TestSupport.randomBytes(3, (3 << 20) + 17);
        Path file = Files.write(dir.resolve("src.bin"), source);
        TestSupport.RecordingWriter w = new TestSupport.RecordingWriter();
        try (FileChannel in = FileChannel.open(file)) {
            w.transfer(in, 5, (2 << 20) + 9);
            w.transfer(in, 0, 0);
            assertArrayEquals(Arrays.copyOfRange(source, 5, 5 + (2 << 20) + 9), w.all.toByteArray());
            assertThrows(EOFException.class, () -> w.transfer(in, source.length - 4, 8));
        }
    }
}
