package dev.arica.formats.io;

import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/**
 * Read channels on the files tensors come from, each opened once (upscale copies from them file to file), and
 * positional reads (pread) of tensor bytes into a chunk buffer instead of through the file mapping: on a virtual
 * machine, faulting mapped pages in cost three to six times a read() of the same bytes from the page cache
 * (docs/BENCHMARKS.md, issue 17). {@code -Darica.pread=false} makes the callers read through the mapping instead, for
 * measurements.
 */
public final class SourceChannels implements AutoCloseable {
    public static final boolean ENABLED = !"false".equals(System.getProperty("arica.pread"));

    private final Map<Path, FileChannel> channels = new HashMap<>();

    /** The channel of {@code file}, opened on first use; safe for concurrent positional reads. */
    public synchronized FileChannel of(Path file) throws IOException {
        FileChannel ch = channels.get(file);
        if (ch == null) {
            ch = FileChannel.open(file, StandardOpenOption.READ);
            channels.put(file, ch);
        }
        return ch;
    }

    /** Fills {@code dst} with the bytes of {@code range} from {@code offset} on (relative to the range's start). */
    public static void read(FileChannel ch, FileRange range, long offset, MemorySegment dst) {
        if (offset < 0 || offset + dst.byteSize() > range.length()) {
            throw new IllegalArgumentException(dst.byteSize() + " bytes at " + offset + " outside " + range);
        }
        ByteBuffer b = dst.asByteBuffer();
        long at = range.offset() + offset;
        try {
            while (b.hasRemaining()) {
                int n = ch.read(b, at + b.position());
                if (n < 0) {
                    throw new IOException(range.file() + ": ends before byte " + (at + b.position()) + " of a tensor");
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Elements {@code [first, first + count)} of the tensor at {@code range}, stored as {@code from}, into {@code out} as
     * {@code to}: read straight into it when the types are equal, else read into {@code scratch} (at least
     * {@code from.bytesFor(count)} bytes) and cast.
     */
    public static void readAs(FileChannel ch, FileRange range, DType from, long first, long count, DType to,
            MemorySegment out, MemorySegment scratch) {
        if (from == to) {
            read(ch, range, from.bytesFor(first), out.asSlice(0, to.bytesFor(count)));
            return;
        }
        MemorySegment raw = scratch.asSlice(0, from.bytesFor(count));
        read(ch, range, from.bytesFor(first), raw);
        FloatCast.cast(from, raw, to, out, count);
    }

    @Override
    public synchronized void close() throws IOException {
        IOException first = null;
        for (FileChannel ch : channels.values()) {
            try {
                ch.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        channels.clear();
        if (first != null) {
            throw first;
        }
    }
}
