package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * GGML's block_q4_1: {@link #VALUES} values in {@link #BYTES} bytes, fp16 scale d at {@link #D}, fp16 minimum m at
 * {@link #M}, then 16 bytes of 4-bit codes q from {@link #QS}, byte j holding value j in its low nibble and value
 * j + 16 in its high nibble. Value = q * d + m.
 */
public final class Q4_1Block {
    public static final int VALUES = 32;
    public static final int BYTES = 20;
    public static final int D = 0;
    public static final int M = 2;
    public static final int QS = 4;

    private Q4_1Block() {}

    /** The block at byte {@code block} of {@code s} into {@code out[at .. at + 32)}. */
    public static void dequantize(MemorySegment s, long block, float[] out, int at) {
        float d = Float.float16ToFloat(s.get(RowGeometry.F16, block + D));
        float m = Float.float16ToFloat(s.get(RowGeometry.F16, block + M));
        for (int j = 0; j < VALUES / 2; j++) {
            int b = s.get(ValueLayout.JAVA_BYTE, block + QS + j);
            out[at + j] = (b & 15) * d + m;
            out[at + j + VALUES / 2] = (b >>> 4 & 15) * d + m;
        }
    }
}
