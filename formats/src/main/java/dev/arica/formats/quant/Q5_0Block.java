package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * GGML's block_q5_0: {@link #VALUES} values in {@link #BYTES} bytes, fp16 scale d at {@link #D}, the fifth bits of
 * the codes as a little-endian uint32 qh at {@link #QH} (bit j for value j), then 16 bytes of low nibbles from
 * {@link #QS} (byte j: value j low, value j + 16 high). Value = (q - 16) * d with q = nibble | fifth bit << 4.
 */
public final class Q5_0Block {
    public static final int VALUES = 32;
    public static final int BYTES = 22;
    public static final int D = 0;
    public static final int QH = 2;
    public static final int QS = 6;

    /** qh: a little-endian uint32, read unaligned. */
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Q5_0Block() {}

    /** The block at byte {@code block} of {@code s} into {@code out[at .. at + 32)}. */
    public static void dequantize(MemorySegment s, long block, float[] out, int at) {
        float d = Float.float16ToFloat(s.get(RowGeometry.F16, block + D));
        int qh = qh(s, block + QH);
        for (int j = 0; j < VALUES / 2; j++) {
            int b = s.get(ValueLayout.JAVA_BYTE, block + QS + j);
            out[at + j] = ((b & 15 | fifthBit(qh, j)) - 16) * d;
            out[at + j + VALUES / 2] = ((b >>> 4 & 15 | fifthBit(qh, j + VALUES / 2)) - 16) * d;
        }
    }

    /** The fifth bits at byte {@code at} of {@code s}: a little-endian uint32, bit j for value j. */
    static int qh(MemorySegment s, long at) {
        return s.get(U32, at);
    }

    /** Bit {@code j} of {@code qh} as the code's value 16 or 0: how Q5_0 and Q5_1 store the fifth bits. */
    static int fifthBit(int qh, int j) {
        return (qh >>> j & 1) << 4;
    }
}
