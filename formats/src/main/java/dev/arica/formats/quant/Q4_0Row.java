package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A row of GGML Q4_0 blocks of {@link #BLOCK} bytes: fp16 d, then {@link #HALF} bytes of 4-bit codes q, byte j
 * holding element j in its low nibble and element j + 16 in its high nibble. Value = (q - {@link #ZERO_POINT}) * d.
 */
public final class Q4_0Row extends GgmlRow {
    /** Code bytes in a block: elements j and j + HALF share byte j. */
    public static final int HALF = GROUP / 2;
    public static final int BLOCK = CODES + HALF;
    public static final int ZERO_POINT = 8;
    public static final int MAX_CODE = 15;

    public Q4_0Row(long cols) {
        super(cols, BLOCK);
    }

    /** The codes (0..15) of the block at byte {@code block} of {@code s}, element j into {@code out[j]}. */
    public static void unpack(MemorySegment s, long block, int[] out) {
        for (int j = 0; j < HALF; j++) {
            int b = s.get(ValueLayout.JAVA_BYTE, block + CODES + j);
            out[j] = b & MAX_CODE;
            out[j + HALF] = b >>> 4 & MAX_CODE;
        }
    }

    /** Writes the codes of elements {@code j} and {@code j + HALF} ({@code j < HALF}) of the block at {@code block}. */
    public static void putPair(MemorySegment s, long block, int j, int low, int high) {
        s.set(ValueLayout.JAVA_BYTE, block + CODES + j, (byte) (low | high << 4));
    }

    /** The block at byte {@code block} of {@code s} as GGML dequantizes it: (q - 8) * d. */
    public static void dequantize(MemorySegment s, long block, float[] out, int at) {
        float d = Float.float16ToFloat(d(s, block));
        for (int j = 0; j < HALF; j++) {
            int b = s.get(ValueLayout.JAVA_BYTE, block + CODES + j);
            out[at + j] = ((b & MAX_CODE) - ZERO_POINT) * d;
            out[at + j + HALF] = ((b >>> 4 & MAX_CODE) - ZERO_POINT) * d;
        }
    }

    @Override
    void blockCodes(MemorySegment s, long block, int[] out) {
        unpack(s, block, out);
    }

    @Override
    public int zeroPoint(MemorySegment s, long row, long group) {
        return ZERO_POINT;
    }
}
