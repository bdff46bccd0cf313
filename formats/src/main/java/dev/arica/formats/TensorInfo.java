package dev.arica.formats;

import java.util.Arrays;
import java.util.Objects;

/**
 * A tensor's description: name, element type and shape. The byte length follows from them.
 *
 * @param shape dimensions, outermost first; empty for a scalar. Not copied: callers must not mutate it.
 */
public record TensorInfo(String name, DType dtype, long[] shape) {

    public TensorInfo {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape of " + name);
            }
        }
    }

    /** Number of elements; 1 for a scalar. Throws ArithmeticException when it overflows a long. */
    public long elements() {
        return elements(shape);
    }

    /** Bytes of the tensor's data. */
    public long byteSize() {
        return dtype.bytesFor(elements());
    }

    public int rank() {
        return shape.length;
    }

    public TensorInfo withDtype(DType newType) {
        return new TensorInfo(name, newType, shape);
    }

    public TensorInfo withName(String newName) {
        return new TensorInfo(newName, dtype, shape);
    }

    public static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** The shape as a string such as {@code [64, 172]}. */
    public String shapeString() {
        return Arrays.toString(shape);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && name.equals(t.name) && dtype == t.dtype && Arrays.equals(shape, t.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + " " + dtype + shapeString();
    }
}
