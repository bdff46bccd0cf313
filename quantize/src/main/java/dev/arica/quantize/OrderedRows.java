package dev.arica.quantize;

import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * The rows of a tensor's bytes (the parts of a {@link dev.arica.formats.Tensor}, or stored quantized rows) read in
 * another order, row {@code r} of the result being row {@code order[r]} of the source: GGUF's query and key rows.
 * Rows in order that lie in one part are handed out as views; others are gathered into a buffer.
 */
final class OrderedRows {
    private final List<MemorySegment> parts;
    private final long[] starts;
    private final long rowBytes;
    private final int[] order;

    /** {@code order} null: the rows in their own order. */
    OrderedRows(List<MemorySegment> parts, long rowBytes, int[] order) {
        this.parts = List.copyOf(parts);
        this.starts = new long[parts.size() + 1];
        for (int i = 0; i < parts.size(); i++) {
            starts[i + 1] = starts[i] + parts.get(i).byteSize();
        }
        this.rowBytes = rowBytes;
        this.order = order == null ? null : order.clone();
        if (rowBytes > 0 && starts[parts.size()] % rowBytes != 0) {
            throw new IllegalArgumentException(starts[parts.size()] + " bytes are not whole rows of " + rowBytes);
        }
        if (order != null && (long) order.length * rowBytes != starts[parts.size()]) {
            throw new IllegalArgumentException("an order of " + order.length + " rows for " + starts[parts.size()]
                    + " bytes of rows of " + rowBytes);
        }
    }

    long rowBytes() {
        return rowBytes;
    }

    /** Rows {@code [first, first + n)} as a view of their part, or null when they must be gathered. */
    MemorySegment view(long first, long n) {
        if (order != null) {
            return null;
        }
        long from = first * rowBytes;
        long to = from + n * rowBytes;
        int p = part(from);
        return to <= starts[p + 1] ? parts.get(p).asSlice(from - starts[p], to - from) : null;
    }

    /** Copies rows {@code [first, first + n)} into {@code dst}, one after the other. */
    void gather(long first, long n, MemorySegment dst) {
        for (long i = 0; i < n; i++) {
            long row = order == null ? first + i : order[Math.toIntExact(first + i)];
            copy(row * rowBytes, dst, i * rowBytes);
        }
    }

    /** Copies one row's bytes from source offset {@code from}, across parts if it spans several. */
    private void copy(long from, MemorySegment dst, long at) {
        for (long done = 0; done < rowBytes; ) {
            int p = part(from + done);
            long n = Math.min(rowBytes - done, starts[p + 1] - (from + done));
            MemorySegment.copy(parts.get(p), from + done - starts[p], dst, at + done, n);
            done += n;
        }
    }

    /** The part holding source byte {@code offset}. */
    private int part(long offset) {
        int lo = 0;
        int hi = parts.size() - 1;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (starts[mid] <= offset) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }
}
