package dev.arica.quantize;

import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Tensor;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.io.SourceChannels;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;

/**
 * Rows of a tensor as float32: read from its file when its location is given (positional reads, {@link SourceChannels}),
 * else views of the mapping when they can be, else cast from its parts.
 */
final class RowReader {
    private final Tensor tensor;
    private final DType dtype;
    private final long cols;
    private final long rowBytes;
    private final FileChannel channel;
    private final FileRange range;

    /** @param range where the tensor's bytes lie in the file of {@code channel}, or null (both) to use the mapping */
    RowReader(Tensor tensor, long cols, FileChannel channel, FileRange range) {
        this.tensor = tensor;
        this.dtype = tensor.info().dtype();
        this.cols = cols;
        this.rowBytes = dtype.bytesFor(cols);
        this.channel = channel;
        this.range = range;
    }

    /**
     * Rows {@code [first, first + n)} in place when they are read through the mapping, the tensor is float32 and they lie
     * in one part, else null.
     */
    MemorySegment direct(long first, long n) {
        if (range != null || dtype != DType.F32) {
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

    /**
     * Rows {@code [first, first + n)} converted into {@code dst} as float32; {@code scratch} holds their stored bytes
     * when they are read from the file in another type ({@code dtype.bytesFor(n * cols)} bytes).
     */
    void readF32(long first, long n, MemorySegment dst, MemorySegment scratch) {
        if (range != null) {
            SourceChannels.readAs(channel, range, dtype, first * cols, n * cols, DType.F32, dst, scratch);
            return;
        }
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
