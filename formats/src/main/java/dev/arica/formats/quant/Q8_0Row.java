package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A row of GGML Q8_0 blocks of {@link #BLOCK} bytes: fp16 d, then 32 int8 codes q, element j at byte
 * {@code CODES + j}. Value = q * d; read unsigned, q + {@link #ZERO_POINT}.
 */
public final class Q8_0Row extends GgmlRow {
    public static final int BLOCK = CODES + GROUP;
    /** q + 128 with zero point 128 gives q * d: MatMulNBits' default 8-bit zero point. */
    public static final int ZERO_POINT = 128;

    public Q8_0Row(long cols) {
        super(cols, BLOCK);
    }

    /** The signed code of element {@code j} of the block at byte {@code block} of {@code s}. */
    public static int q(MemorySegment s, long block, int j) {
        return s.get(ValueLayout.JAVA_BYTE, block + CODES + j);
    }

    /** Writes the signed code {@code q} of element {@code j} of the block at byte {@code block} of {@code s}. */
    public static void putQ(MemorySegment s, long block, int j, int q) {
        s.set(ValueLayout.JAVA_BYTE, block + CODES + j, (byte) q);
    }

    /** The block at byte {@code block} of {@code s} as GGML dequantizes it: q * d. */
    public static void dequantize(MemorySegment s, long block, float[] out, int at) {
        float d = Float.float16ToFloat(d(s, block));
        for (int j = 0; j < GROUP; j++) {
            out[at + j] = q(s, block, j) * d;
        }
    }

    @Override
    void blockCodes(MemorySegment s, long block, int[] out) {
        for (int j = 0; j < GROUP; j++) {
            out[j] = q(s, block, j) + ZERO_POINT;
        }
    }

    @Override
    public int zeroPoint(MemorySegment s, long row, long group) {
        return ZERO_POINT;
    }
}
