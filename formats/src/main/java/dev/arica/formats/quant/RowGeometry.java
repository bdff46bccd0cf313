package dev.arica.formats.quant;

import dev.arica.formats.FloatCast;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Where one stored row of a quantized tensor keeps each group's scale, codes and zero point, and how a code is
 * read: the one description of a scheme's bytes, which the quantizer, the dequantizer and the ONNX export
 * follow. A row of cols values is padded with zeros to {@link #groups()} whole groups; offsets count
 * bytes from the start of the row. Scales are little-endian fp16. Codes read as unsigned numbers with
 * value = (code - zero point) * scale, the rule of ONNX Runtime's MatMulNBits; the zero point of a symmetric
 * scheme is the implicit 2^(bits-1).
 *
 * <ul>
 *   <li>{@link Q8_0Row}, {@link Q4_0Row}: GGML blocks, each group's scale followed by its codes.</li>
 *   <li>{@link IntRow}: int8/int4, the codes of every group, then every scale, then the zero points.</li>
 * </ul>
 *
 * Made by {@link QuantLayout#geometry(long)}.
 */
public sealed interface RowGeometry permits GgmlRow, IntRow {
    /** How every scale is stored. */
    ValueLayout.OfShort F16 = FloatCast.I16_LE;

    /** Values in a group. */
    int groupSize();

    /** Groups in the row, the last one padded. */
    long groups();

    /** Bytes of the stored row. */
    long rowBytes();

    /** Offset in the row of the fp16 scale of group {@code group}. */
    long scaleAt(long group);

    /** Offset in the row of the first byte of the codes of group {@code group}. */
    long codesAt(long group);

    /** The fp16 bits of the scale of group {@code group} of the row stored at byte {@code row} of {@code s}. */
    default short scale(MemorySegment s, long row, long group) {
        return s.get(F16, row + scaleAt(group));
    }

    /** Writes the fp16 bits of the scale of group {@code group} of the row at byte {@code row} of {@code s}. */
    default void putScale(MemorySegment s, long row, long group, short fp16) {
        s.set(F16, row + scaleAt(group), fp16);
    }

    /**
     * The unsigned codes of group {@code group} of the row stored at byte {@code row} of {@code s}, element j
     * into {@code out[j]} ({@code out} holds a whole group).
     */
    void codes(MemorySegment s, long row, long group, int[] out);

    /** The zero point of group {@code group} of the row stored at byte {@code row} of {@code s}. */
    int zeroPoint(MemorySegment s, long row, long group);
}
