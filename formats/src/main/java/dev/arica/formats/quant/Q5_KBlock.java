package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;

/**
 * GGML's block_q5_K: {@link #VALUES} values in {@link #BYTES} bytes, laid out as {@link Q4_KBlock} with the fifth
 * bits added: fp16 d at {@link #D}, dmin at {@link #DMIN}, the scales and minimums packed as Q4_K's at
 * {@link #SCALES}, 32 bytes qh at {@link #QH} and the 4-bit low codes at {@link #QS}. Value 64c + l (sub-block 2c)
 * takes bit 2c of qh[l] as its 16, value 64c + 32 + l (sub-block 2c + 1) bit 2c + 1. Value = (d * scale) * q -
 * (dmin * min).
 */
public final class Q5_KBlock {
    public static final int VALUES = 256;
    public static final int BYTES = 176;
    public static final int D = 0;
    public static final int DMIN = 2;
    public static final int SCALES = 4;
    public static final int QH = SCALES + Q4_KBlock.SCALE_BYTES;
    public static final int QS = QH + 32;

    private Q5_KBlock() {}

    /** The block at byte {@code block} of {@code s} into {@code out[at .. at + 256)}. */
    public static void dequantize(MemorySegment s, long block, float[] out, int at) {
        float d = Float.float16ToFloat(s.get(RowGeometry.F16, block + D));
        float dmin = Float.float16ToFloat(s.get(RowGeometry.F16, block + DMIN));
        long scales = block + SCALES;
        for (int c = 0; c < VALUES / 64; c++) {
            float d1 = d * Q4_KBlock.scale(s, scales, 2 * c), m1 = dmin * Q4_KBlock.min(s, scales, 2 * c);
            float d2 = d * Q4_KBlock.scale(s, scales, 2 * c + 1), m2 = dmin * Q4_KBlock.min(s, scales, 2 * c + 1);
            for (int l = 0; l < Q4_KBlock.SUB_BLOCK; l++) {
                int q = Q4_KBlock.u8(s, block + QS + 32L * c + l);
                int h = Q4_KBlock.u8(s, block + QH + l);
                out[at + 64 * c + l] = d1 * ((q & 15) + ((h >>> 2 * c & 1) << 4)) - m1;
                out[at + 64 * c + 32 + l] = d2 * ((q >>> 4) + ((h >>> 2 * c + 1 & 1) << 4)) - m2;
            }
        }
    }
}
