package dev.arica.formats;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * A tensor and its bytes, as read-only views of mapped files. The data is the concatenation of
 * {@code parts} in order: one part for a tensor stored contiguously, several when a reader reorders
 * rows (the llama2.c importer's rotary permutation) without copying them.
 */
public record Tensor(TensorInfo info, List<MemorySegment> parts) {

    public Tensor {
        parts = List.copyOf(parts);
        long total = 0;
        for (MemorySegment p : parts) {
            total += p.byteSize();
        }
        if (total != info.byteSize()) {
            throw new IllegalArgumentException(
                    "tensor " + info.name() + ": parts hold " + total + " bytes, expected " + info.byteSize());
        }
    }

    public static Tensor of(TensorInfo info, MemorySegment data) {
        return new Tensor(info, List.of(data));
    }

    public String name() {
        return info.name();
    }

    /** Byte {@code index} of the tensor's data, wherever its part lies. Meant for tests and small reads. */
    public byte byteAt(long index) {
        long base = 0;
        for (MemorySegment p : parts) {
            if (index < base + p.byteSize()) {
                return p.get(java.lang.foreign.ValueLayout.JAVA_BYTE, index - base);
            }
            base += p.byteSize();
        }
        throw new IndexOutOfBoundsException(index);
    }
}
