package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * GGML's block_q5_1: {@link #VALUES} values in {@link #BYTES} bytes, fp16 scale d at {@link #D}, fp16 minimum m at
 * {@link #M}, the fifth bits qh at {@link #QH} and the low nibbles at {@link #QS}, packed as in {@link Q5_0Block}.
 * Value = q * d + m.
 */
public final class Q5_1Block {
    public static final int VALUES = 32;
    public static final int BYTES = 24;
    public static final int D = 0;
    public static final int M = 2;
    public static final int QH = 4;
    public static final int QS = 8;

    private Q5_1Block() {}

    /** The block at byte {@code block} of {@code s} into {@code out[at .. at + 32)}. */
    public static void dequantize(MemorySegment s, long block, float[] out, int at) {
        float d = Float.float16ToFloat(s.get(RowGeometry.F16, block + D));
        float m = Float.float16ToFloat(s.get(RowGeometry.F16, block + M));
        int qh = Q5_0Block.qh(s, block + QH);
        for (int j = 0; j < VALUES / 2; j++) {
            int b = s.get(ValueLayout.JAVA_BYTE, block + QS + j);
            out[at + j] = (b & 15 | Q5_0Block.fifthBit(qh, j)) * d + m;
            out[at + j + VALUES / 2] = (b >>> 4 & 15 | Q5_0Block.fifthBit(qh, j + VALUES / 2)) * d + m;
        }
    }
}
