package dev.arica.formats.io;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.List;

/**
 * The tensors a single-file writer declared in its header, in order with their sizes, and how far writing has got:
 * every writer holds its callers to the same contract (each tensor begun in turn and written in full, nothing more).
 */
public final class TensorSequence {
    /** Largest single channel write; a MemorySegment's ByteBuffer view is limited to 2 GiB. */
    private static final long MAX_WRITE = 1L << 30;

    private final List<String> names;
    private final long[] bytes;
    private int current = -1;
    private long remaining;

    public TensorSequence(List<String> names, long[] bytes) {
        if (names.size() != bytes.length) {
            throw new IllegalArgumentException(names.size() + " names for " + bytes.length + " sizes");
        }
        this.names = List.copyOf(names);
        this.bytes = bytes.clone();
    }

    /** Starts {@code name}, which must be the next declared tensor after a complete one; returns its index. */
    public int begin(String name) {
        if (current >= 0 && remaining != 0) {
            throw new IllegalStateException("tensor " + names.get(current) + " is missing " + remaining + " bytes");
        }
        if (current + 1 >= names.size() || !names.get(current + 1).equals(name)) {
            throw new IllegalStateException("tensor " + name + " is not the next one declared");
        }
        current++;
        remaining = bytes[current];
        return current;
    }

    /** Counts {@code n} bytes of the current tensor ({@code what}: "write", "transfer"), which must fit in it. */
    public void advance(long n, String what) {
        if (current < 0 || n > remaining) {
            throw new IllegalStateException(what + " of " + n + " bytes does not fit the current tensor");
        }
        remaining -= n;
    }

    /** Refuses to finish before every declared tensor was written in full. */
    public void checkComplete() {
        if (remaining != 0 || current != names.size() - 1) {
            int missing = remaining != 0 ? current : current + 1;
            throw new IllegalStateException("tensor " + names.get(missing) + " was not written completely");
        }
    }

    /** Writes all of {@code bytes} to {@code channel} in slices a ByteBuffer can view; returns the bytes written. */
    public static long writeFully(FileChannel channel, MemorySegment bytes) throws IOException {
        for (long off = 0; off < bytes.byteSize(); off += MAX_WRITE) {
            writeFully(channel, bytes.asSlice(off, Math.min(MAX_WRITE, bytes.byteSize() - off)).asByteBuffer());
        }
        return bytes.byteSize();
    }

    /** Writes every remaining byte of {@code b}: a channel may write fewer than asked. */
    public static long writeFully(FileChannel channel, ByteBuffer b) throws IOException {
        long n = b.remaining();
        while (b.hasRemaining()) {
            channel.write(b);
        }
        return n;
    }
}
