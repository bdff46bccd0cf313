package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A row of int8 or int4 in ONNX Runtime MatMulNBits order: the codes of every group ({@code groupSize * bits / 8}
 * bytes a group; int8 one uint8 a value, int4 element 2i in the low nibble of byte i and element 2i + 1 in the
 * high nibble), then one fp16 scale per group, then, when asymmetric, the zero points, one byte each for int8,
 * two to a byte for int4 (even group in the low nibble; an odd group count leaves the last high nibble 0).
 * Symmetric codes have the implicit zero point 2^(bits-1).
 */
public final class IntRow implements RowGeometry {
    private final long groups;
    private final int bits;
    private final int groupSize;
    private final int groupCodeBytes;
    private final boolean asymmetric;
    private final long scalesAt;
    private final long zeroPointsAt;
    private final long zeroPointBytes;

    public IntRow(QuantLayout layout, long cols) {
        if (layout.scheme() != Scheme.INT8 && layout.scheme() != Scheme.INT4) {
            throw new IllegalArgumentException("not an integer scheme: " + layout.describe());
        }
        if (cols < 0) {
            throw new IllegalArgumentException("negative row length " + cols);
        }
        this.groups = layout.groups(cols);
        this.bits = layout.bits();
        this.groupSize = layout.groupSize();
        this.groupCodeBytes = layout.groupCodeBytes();
        this.asymmetric = layout.asymmetric();
        this.scalesAt = layout.rowCodeBytes(cols);
        this.zeroPointsAt = scalesAt + groups * Short.BYTES;
        this.zeroPointBytes = asymmetric ? Math.ceilDiv(groups * bits, 8) : 0;
    }

    public int bits() {
        return bits;
    }

    public boolean asymmetric() {
        return asymmetric;
    }

    @Override
    public int groupSize() {
        return groupSize;
    }

    @Override
    public long groups() {
        return groups;
    }

    @Override
    public long rowBytes() {
        return zeroPointsAt + zeroPointBytes;
    }

    @Override
    public long scaleAt(long group) {
        return scalesAt + group * Short.BYTES;
    }

    @Override
    public long codesAt(long group) {
        return group * groupCodeBytes;
    }

    /** Offset in the row of the packed zero points (asymmetric only). */
    public long zeroPointsAt() {
        return zeroPointsAt;
    }

    /** Bytes of packed zero points in the row; 0 when symmetric. */
    public long zeroPointBytes() {
        return zeroPointBytes;
    }

    /** The unsigned code of element {@code j} of the group whose codes start at byte {@code codes} of {@code s}. */
    public int code(MemorySegment s, long codes, int j) {
        return unpack(s, codes, j, bits);
    }

    /** Writes the codes of elements {@code j} and {@code j + 1} ({@code j} even) of the group at {@code codes}. */
    public void putPair(MemorySegment s, long codes, int j, int c0, int c1) {
        putPair(s, codes, j, bits, c0, c1);
    }

    /** The codes of a whole group, a byte at a time: the hot path of the dequantizer. */
    @Override
    public void codes(MemorySegment s, long row, long group, int[] out) {
        long at = row + codesAt(group);
        if (bits == 8) {
            for (int j = 0; j < out.length; j++) {
                out[j] = s.get(ValueLayout.JAVA_BYTE, at + j) & 0xff;
            }
            return;
        }
        for (int j = 0; j < out.length; j += 2) {
            int b = s.get(ValueLayout.JAVA_BYTE, at + j / 2);
            out[j] = b & 15;
            out[j + 1] = b >>> 4 & 15;
        }
    }

    @Override
    public int zeroPoint(MemorySegment s, long row, long group) {
        return asymmetric ? unpack(s, row + zeroPointsAt, group, bits) : 1 << (bits - 1);
    }

    /**
     * Writes the zero point of group {@code group} of the row at byte {@code row} (asymmetric only); groups are
     * written in order, an int4 even group clearing the high nibble that the next group fills.
     */
    public void putZeroPoint(MemorySegment s, long row, long group, int zp) {
        putZeroPoint(s, row + zeroPointsAt, group, bits, zp);
    }

    /**
     * Element {@code i} of {@code bits}-bit values packed from byte {@code at} of {@code s}, two to a byte for 4
     * bits, the lower-numbered one in the low nibble: the order of the codes and of the zero points.
     */
    private static int unpack(MemorySegment s, long at, long i, int bits) {
        if (bits == 8) {
            return s.get(ValueLayout.JAVA_BYTE, at + i) & 0xff;
        }
        int b = s.get(ValueLayout.JAVA_BYTE, at + i / 2);
        return b >>> ((int) i & 1) * 4 & 15;
    }

    // Static writers for kernels that hold offsets and bits rather than the geometry (see VectorKernels.intRows).

    /** {@link #putPair(MemorySegment, long, int, int, int)} for {@code bits}-bit codes. */
    public static void putPair(MemorySegment s, long codes, int j, int bits, int c0, int c1) {
        if (bits == 8) {
            s.set(ValueLayout.JAVA_BYTE, codes + j, (byte) c0);
            s.set(ValueLayout.JAVA_BYTE, codes + j + 1, (byte) c1);
        } else {
            s.set(ValueLayout.JAVA_BYTE, codes + j / 2, (byte) (c0 | c1 << 4));
        }
    }

    /** {@link #putZeroPoint(MemorySegment, long, long, int)} given where the row's zero points start. */
    public static void putZeroPoint(MemorySegment s, long zeroPoints, long group, int bits, int zp) {
        if (bits == 8) {
            s.set(ValueLayout.JAVA_BYTE, zeroPoints + group, (byte) zp);
        } else if ((group & 1) == 0) {
            s.set(ValueLayout.JAVA_BYTE, zeroPoints + group / 2, (byte) zp);
        } else {
            long p = zeroPoints + group / 2;
            s.set(ValueLayout.JAVA_BYTE, p, (byte) (s.get(ValueLayout.JAVA_BYTE, p) & 0x0f | zp << 4));
        }
    }
}
