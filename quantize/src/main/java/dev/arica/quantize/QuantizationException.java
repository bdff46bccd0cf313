package dev.arica.quantize;

/**
 * A tensor that cannot be quantized: a NaN or infinite input, or a group whose scale does not fit in
 * fp16. Indexes are counted from the start of the segment given to the quantizer (row-major, elements,
 * not bytes); the caller names the tensor with {@link #withTensor(String)}.
 */
public final class QuantizationException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** What went wrong. */
    public enum Kind {
        /** An input element is NaN or infinite; {@link #index()} is its flat index. */
        NON_FINITE_INPUT,
        /**
         * A group's scale rounds to infinity in fp16 (the fp32 scale is 65520 or more); {@link #index()} is
         * the flat index of the group's first element, {@link #value()} the fp32 scale.
         */
        SCALE_OVERFLOW,
        /** The calibration statistics of the tensor's input cannot be used (GPTQ's dampened Hessian is not positive definite). */
        CALIBRATION
    }

    private final Kind kind;
    private final long index;
    private final long row;
    private final long column;
    private final float value;
    private final int groupSize;

    private QuantizationException(String message, Kind kind, long index, long row, long column, float value,
            int groupSize) {
        super(message);
        this.kind = kind;
        this.index = index;
        this.row = row;
        this.column = column;
        this.value = value;
        this.groupSize = groupSize;
    }

    static QuantizationException nonFinite(long row, long column, long cols, float value) {
        long index = row * cols + column;
        return new QuantizationException("non-finite value " + value + " at element " + index + " (row " + row
                + ", column " + column + ")", Kind.NON_FINITE_INPUT, index, row, column, value, 0);
    }

    static QuantizationException scaleOverflow(long row, long firstColumn, long cols, int groupSize, float scale) {
        long index = row * cols + firstColumn;
        return new QuantizationException("scale " + scale + " of row " + row + ", group " + firstColumn / groupSize
                + " (elements " + index + " to " + (index + Math.min(groupSize, cols - firstColumn) - 1)
                + ") overflows fp16 (largest finite 65504)", Kind.SCALE_OVERFLOW, index, row, firstColumn, scale, groupSize);
    }

    static QuantizationException calibration(String message) {
        return new QuantizationException(message, Kind.CALIBRATION, -1, -1, -1, Float.NaN, 0);
    }

    /** The same exception with the tensor named at the head of the message. */
    public QuantizationException withTensor(String tensor) {
        QuantizationException e = new QuantizationException("tensor '" + tensor + "': " + getMessage(), kind, index, row,
                column, value, groupSize);
        e.initCause(this);
        return e;
    }

    /**
     * The same exception for a tensor of which the quantizer saw the rows from {@code firstRow} on: indexes
     * and rows counted from the tensor's start, the tensor named at the head of the message.
     */
    public QuantizationException withTensor(String tensor, long firstRow, long cols) {
        if (firstRow == 0) {
            return withTensor(tensor);
        }
        QuantizationException moved = kind == Kind.NON_FINITE_INPUT
                ? nonFinite(row + firstRow, column, cols, value)
                : scaleOverflow(row + firstRow, column, cols, groupSize, value);
        return moved.withTensor(tensor);
    }

    public Kind kind() {
        return kind;
    }

    /** Flat element index (row * cols + column) of the offending element or of the group's first element. */
    public long index() {
        return index;
    }

    public long row() {
        return row;
    }

    /** Column of the offending element, or of the group's first element for {@link Kind#SCALE_OVERFLOW}. */
    public long column() {
        return column;
    }

    /** The offending input value, or the fp32 scale for {@link Kind#SCALE_OVERFLOW}. */
    public float value() {
        return value;
    }

    /** The group index within the row, for a group of {@code groupSize}. */
    public long group(int groupSize) {
        return column / groupSize;
    }
}
