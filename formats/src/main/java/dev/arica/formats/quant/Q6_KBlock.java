package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * GGML's block_q6_K: {@link #VALUES} values in {@link #BYTES} bytes as two halves of 128: 128 bytes of low nibbles at
 * {@link #QL}, 64 bytes of 2-bit high parts at {@link #QH}, 16 int8 scales at {@link #SCALES} (scale i for values
 * 16i .. 16i + 15), fp16 d at {@link #D}. In half h, for l in 0..31: value 128h + l takes the low nibble of
 * ql[64h + l] and bits 0-1 of qh[32h + l]; value + 32 the low nibble of ql[64h + 32 + l] and bits 2-3; value + 64
 * the high nibble of ql[64h + l] and bits 4-5; value + 96 the high nibble of ql[64h + 32 + l] and bits 6-7. Value =
 * (d * scale) * (q - 32).
 */
public final class Q6_KBlock {
    public static final int VALUES = 256;
    public static final int BYTES = 210;
    public static final int QL = 0;
    public static final int QH = 128;
    public static final int SCALES = 192;
    public static final int D = 208;

    private Q6_KBlock() {}

    /** The block at byte {@code block} of {@code s} into {@code out[at .. at + 256)}. */
    public static void dequantize(MemorySegment s, long block, float[] out, int at) {
        float d = Float.float16ToFloat(s.get(RowGeometry.F16, block + D));
        for (int h = 0; h < 2; h++) {
            for (int l = 0; l < 32; l++) {
                int low0 = Q4_KBlock.u8(s, block + QL + 64L * h + l);
                int low1 = Q4_KBlock.u8(s, block + QL + 64L * h + 32 + l);
                int high = Q4_KBlock.u8(s, block + QH + 32L * h + l);
                int base = 128 * h + l;
                out[at + base] = value(s, block, d, base, (low0 & 15 | (high & 3) << 4) - 32);
                out[at + base + 32] = value(s, block, d, base + 32, (low1 & 15 | (high >>> 2 & 3) << 4) - 32);
                out[at + base + 64] = value(s, block, d, base + 64, (low0 >>> 4 | (high >>> 4 & 3) << 4) - 32);
                out[at + base + 96] = value(s, block, d, base + 96, (low1 >>> 4 | (high >>> 6 & 3) << 4) - 32);
            }
        }
    }

    /** Value {@code i} of the block from its centred code {@code q}: d * scale * q, in GGML's order. */
    private static float value(MemorySegment s, long block, float d, int i, int q) {
        return d * s.get(ValueLayout.JAVA_BYTE, block + SCALES + i / 16) * q;
    }
}
