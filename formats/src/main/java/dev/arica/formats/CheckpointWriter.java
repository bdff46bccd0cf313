package dev.arica.formats;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

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

    /** Finishes the output and moves it under the destination name. */
    void commit() throws IOException;

    @Override
    void close() throws IOException;
}
