package dev.arica.quantize;

import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Tensor;
import java.lang.foreign.MemorySegment;

/** Rows of a tensor as float32: views of the mapping when they can be, else cast from its parts. */
final class RowReader {
    private final Tensor tensor;
    private final DType dtype;
    private final long rowBytes;

    RowReader(Tensor tensor, long cols) {
        this.tensor = tensor;
        this.dtype = tensor.info().dtype();
        this.rowBytes = dtype.bytesFor(cols);
    }

    /** Rows {@code [first, first + n)} in place when the tensor is float32 and they lie in one part, else null. */
    MemorySegment direct(long first, long n) {
        if (dtype != DType.F32) {
            return null;
        }
        long from = first * rowBytes;
        long to = from + n * rowBytes;
        long base = 0;
        for (MemorySegment p : tensor.parts()) {
            long end = base + p.byteSize();
            if (from >= base && to <= end) {
                return p.asSlice(from - base, to - from);
            }
            if (from < end) {
                return null;
            }
            base = end;
        }
        return null;
    }

    /** Rows {@code [first, first + n)} converted into {@code dst} as float32. */
    void readF32(long first, long n, MemorySegment dst) {
        long from = first * rowBytes;
        long to = from + n * rowBytes;
        long base = 0;
        long written = 0;
        int size = dtype.byteSize();
        for (MemorySegment p : tensor.parts()) {
            long end = base + p.byteSize();
            long a = Math.max(from, base);
            long b = Math.min(to, end);
            if (a < b) {
                long count = (b - a) / size;
                FloatCast.cast(dtype, p.asSlice(a - base, b - a), DType.F32, dst.asSlice(written * 4, count * 4), count);
                written += count;
            }
            base = end;
        }
    }
}
