package dev.arica.formats.quant;

/**
 * A scheme with its group size and symmetry: how many groups and codes a row has; where its bytes lie is
 * the {@link RowGeometry} of {@link #geometry(long)}.
 */
public record QuantLayout(Scheme scheme, int groupSize, boolean asymmetric) {

    public QuantLayout {
        if (scheme.fixedGroup() != 0 && groupSize != scheme.fixedGroup()) {
            throw new IllegalArgumentException(scheme.id() + " uses groups of " + scheme.fixedGroup() + ", not " + groupSize);
        }
        if (groupSize < Scheme.MIN_GROUP || groupSize > Scheme.MAX_GROUP || Integer.bitCount(groupSize) != 1) {
            throw new IllegalArgumentException("group size must be a power of two from " + Scheme.MIN_GROUP + " to "
                    + Scheme.MAX_GROUP + ", got " + groupSize);
        }
        if (asymmetric && !scheme.allowsAsymmetric()) {
            throw new IllegalArgumentException(scheme.id() + " is symmetric only");
        }
    }

    /** The scheme with its default group size, symmetric. */
    public static QuantLayout of(Scheme scheme) {
        return new QuantLayout(scheme, scheme.defaultGroup(), false);
    }

    public int bits() {
        return scheme.bits();
    }

    /** Groups in a row of {@code cols} elements (the last one padded). */
    public long groups(long cols) {
        return Math.ceilDiv(cols, groupSize);
    }

    /** Bytes of codes for one group. */
    public int groupCodeBytes() {
        return groupSize * scheme.bits() / 8;
    }

    /** Bytes of codes in a row (for GGML schemes the codes are spread over the blocks). */
    public long rowCodeBytes(long cols) {
        return groups(cols) * groupCodeBytes();
    }

    /** Where the scales, codes and zero points of a stored row of {@code cols} elements lie. */
    public RowGeometry geometry(long cols) {
        return switch (scheme) {
            case Q8_0 -> new Q8_0Row(cols);
            case Q4_0 -> new Q4_0Row(cols);
            case INT8, INT4 -> new IntRow(this, cols);
        };
    }

    /** Bytes of one stored row. */
    public long rowBytes(long cols) {
        return geometry(cols).rowBytes();
    }

    /** Bytes of a stored tensor of {@code rows} rows of {@code cols} elements. */
    public long bytes(long rows, long cols) {
        return Math.multiplyExact(rows, rowBytes(cols));
    }

    /** Refuses {@code stored} unless it holds exactly a [rows, cols] tensor in this layout. */
    public void checkStored(java.lang.foreign.MemorySegment stored, long rows, long cols) {
        if (stored.byteSize() != bytes(rows, cols)) {
            throw new IllegalArgumentException("stored tensor holds " + stored.byteSize() + " bytes, " + describe()
                    + " [" + rows + ", " + cols + "] takes " + bytes(rows, cols));
        }
    }

    /** A short description: "q4_0", "int4 g32 asym". */
    public String describe() {
        if (scheme.fixedGroup() != 0) {
            return scheme.id();
        }
        return scheme.id() + " g" + groupSize + (asymmetric ? " asym" : "");
    }
}
