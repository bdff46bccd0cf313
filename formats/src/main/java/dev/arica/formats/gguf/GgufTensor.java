package dev.arica.formats.gguf;

import java.util.Arrays;

/**
 * A tensor info of a GGUF file, as stored: its name, GGML type, dimensions in GGML's order (ne[0], the length of a
 * row, first) and the offset of its bytes from the start of the data section.
 *
 * @param dims not copied: callers must not mutate it
 * @param bytes what the tensor takes in the data section: whole blocks of its type
 */
public record GgufTensor(String name, GgmlType type, long[] dims, long offset, long bytes) {

    /** The shape outermost first, as safetensors and Hugging Face give it: the dimensions reversed. */
    public long[] shape() {
        long[] shape = new long[dims.length];
        for (int i = 0; i < dims.length; i++) {
            shape[i] = dims[dims.length - 1 - i];
        }
        return shape;
    }

    public long elements() {
        long n = 1;
        for (long d : dims) {
            n *= d;
        }
        return n;
    }

    /** Values in a row (ne[0]); 1 for a tensor without dimensions. */
    public long rowLength() {
        return dims.length == 0 ? 1 : dims[0];
    }

    /** Rows: every dimension but the first multiplied. */
    public long rows() {
        long r = rowLength();
        return r == 0 ? 0 : elements() / r;
    }

    /** Bytes of one stored row. */
    public long rowBytes() {
        return type.bytes(rowLength());
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GgufTensor t && name.equals(t.name) && type == t.type && Arrays.equals(dims, t.dims)
                && offset == t.offset && bytes == t.bytes;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return name + " " + type + Arrays.toString(dims) + " @" + offset;
    }
}
