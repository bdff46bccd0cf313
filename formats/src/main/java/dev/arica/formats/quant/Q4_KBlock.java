package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * GGML's block_q4_K: a super-block of {@link #VALUES} values in {@link #BYTES} bytes, as eight sub-blocks of 32. fp16
 * d at {@link #D} and dmin at {@link #DMIN}; at {@link #SCALES}, 12 bytes packing a 6-bit scale and a 6-bit minimum
 * per sub-block ({@link #scale}, {@link #min}); at {@link #QS}, 128 bytes of 4-bit codes: byte 32c + l holds value
 * 64c + l of sub-block 2c in its low nibble and value 64c + 32 + l of sub-block 2c + 1 in its high nibble. Value =
 * (d * scale) * q - (dmin * min).
 */
public final class Q4_KBlock {
    public static final int VALUES = 256;
    public static final int BYTES = 144;
    public static final int D = 0;
    public static final int DMIN = 2;
    public static final int SCALES = 4;
    /** Bytes of the packed scales and minimums, which Q5_K shares. */
    public static final int SCALE_BYTES = 12;
    public static final int QS = 16;
    /** Values in a sub-block with its own scale and minimum. */
    public static final int SUB_BLOCK = 32;

    private Q4_KBlock() {}

    /** The block at byte {@code block} of {@code s} into {@code out[at .. at + 256)}. */
    public static void dequantize(MemorySegment s, long block, float[] out, int at) {
        float d = Float.float16ToFloat(s.get(RowGeometry.F16, block + D));
        float dmin = Float.float16ToFloat(s.get(RowGeometry.F16, block + DMIN));
        long scales = block + SCALES;
        for (int c = 0; c < VALUES / 64; c++) {
            float d1 = d * scale(s, scales, 2 * c), m1 = dmin * min(s, scales, 2 * c);
            float d2 = d * scale(s, scales, 2 * c + 1), m2 = dmin * min(s, scales, 2 * c + 1);
            for (int l = 0; l < SUB_BLOCK; l++) {
                int q = s.get(ValueLayout.JAVA_BYTE, block + QS + 32L * c + l);
                out[at + 64 * c + l] = d1 * (q & 15) - m1;
                out[at + 64 * c + 32 + l] = d2 * (q >>> 4 & 15) - m2;
            }
        }
    }

    /**
     * The 6-bit scale of sub-block {@code j} (0..7) from the 12 bytes at {@code scales}: for j < 4 the low six bits of
     * byte j; else the low nibble of byte j + 4 with the top two bits of byte j - 4 above it.
     */
    static int scale(MemorySegment s, long scales, int j) {
        return j < 4 ? u8(s, scales + j) & 63 : u8(s, scales + j + 4) & 15 | (u8(s, scales + j - 4) >>> 6) << 4;
    }

    /**
     * The 6-bit minimum of sub-block {@code j}: for j < 4 the low six bits of byte j + 4; else the high nibble of byte
     * j + 4 with the top two bits of byte j above it.
     */
    static int min(MemorySegment s, long scales, int j) {
        return j < 4 ? u8(s, scales + j + 4) & 63 : u8(s, scales + j + 4) >>> 4 | (u8(s, scales + j) >>> 6) << 4;
    }

    static int u8(MemorySegment s, long at) {
        return s.get(ValueLayout.JAVA_BYTE, at) & 0xff;
    }
}
