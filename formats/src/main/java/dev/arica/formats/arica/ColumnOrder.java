package dev.arica.formats.arica;

import dev.arica.formats.FloatCast;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The order of a permuted tensor's stored columns (docs/arica-format.md): stored column j holds the logical column
 * {@code get(j)}, so a matrix product runs on the stored rows once the activations are gathered in the same order.
 * Stored after the rows as K little-endian int32; always a permutation of 0..K-1.
 */
public final class ColumnOrder {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int[] order;

    private ColumnOrder(int[] order) {
        this.order = order;
    }

    /** The order {@code order} (copied); anything but a permutation of 0..length-1 is refused. */
    public static ColumnOrder of(int[] order) {
        int[] o = order.clone();
        boolean[] seen = new boolean[o.length];
        for (int j = 0; j < o.length; j++) {
            if (o[j] < 0 || o[j] >= o.length) {
                throw new IllegalArgumentException("column order holds " + o[j] + " at stored column " + j
                        + ", outside 0.." + (o.length - 1));
            }
            if (seen[o[j]]) {
                throw new IllegalArgumentException("column " + o[j] + " appears twice in the column order");
            }
            seen[o[j]] = true;
        }
        return new ColumnOrder(o);
    }

    /** The order stored in {@code bytes}, {@code cols} int32; refused unless it is a permutation. */
    static ColumnOrder read(MemorySegment bytes, long cols) {
        if (bytes.byteSize() != bytes(cols)) {
            throw new IllegalArgumentException("column order takes " + bytes.byteSize() + " bytes, not " + bytes(cols));
        }
        int[] o = new int[Math.toIntExact(cols)];
        for (int j = 0; j < o.length; j++) {
            o[j] = bytes.getAtIndex(I32, j);
        }
        return of(o);
    }

    /** Bytes of the order of {@code cols} columns. */
    public static long bytes(long cols) {
        return Math.multiplyExact(cols, 4L);
    }

    public int size() {
        return order.length;
    }

    /** The logical column of stored column {@code j}. */
    public int get(int j) {
        return order[j];
    }

    /** Writes the order as stored: {@link #size} little-endian int32 into {@code dst}. */
    public void write(MemorySegment dst) {
        for (int j = 0; j < order.length; j++) {
            dst.setAtIndex(I32, j, order[j]);
        }
    }

    /** {@code rows} float32 rows in stored column order, {@code stored}, written into {@code logical} in logical order. */
    public void unpermute(MemorySegment stored, MemorySegment logical, long rows) {
        long k = order.length;
        for (long r = 0; r < rows; r++) {
            for (int j = 0; j < order.length; j++) {
                logical.setAtIndex(FloatCast.F32_LE, r * k + order[j], stored.getAtIndex(FloatCast.F32_LE, r * k + j));
            }
        }
    }
}
