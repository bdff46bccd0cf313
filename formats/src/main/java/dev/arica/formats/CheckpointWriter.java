package dev.arica.formats;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Streams tensors to disk one at a time, in the order they were declared when the writer was created.
 * Nothing appears under the destination name until {@link #commit()}; closing an uncommitted writer
 * removes what it wrote.
 */
public interface CheckpointWriter extends AutoCloseable {

    /** Starts the next tensor; the previous one must be complete and the name must be the next declared. */
    void begin(String name) throws IOException;

    /** Appends bytes to the current tensor. */
    void write(MemorySegment bytes) throws IOException;

    /** Writes a whole tensor, part by part. */
    default void writeTensor(Tensor tensor) throws IOException {
        begin(tensor.name());
        for (MemorySegment part : tensor.parts()) {
            write(part);
        }
    }

    /**
     * Appends {@code count} bytes of {@code source}, starting at {@code position}, to the current tensor.
     * Writers to a file copy them file to file in the kernel (copy_file_range on Linux), so the bytes never
     * pass through this process; this default reads them through a small buffer.
     */
    default void transfer(FileChannel source, long position, long count) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate((int) Math.min(count, 1 << 20));
        for (long done = 0; done < count; ) {
            buffer.clear().limit((int) Math.min(buffer.capacity(), count - done));
            int n = source.read(buffer, position + done);
            if (n < 0) {
                throw new EOFException("source ends " + (count - done) + " bytes before the range copied");
            }
            write(MemorySegment.ofBuffer(buffer.flip()));
            done += n;
        }
    }

    /** Finishes the output and moves it under the destination name. */
    void commit() throws IOException;

    @Override
    void close() throws IOException;
}
