package dev.arica.formats.quant;

import dev.arica.formats.FloatCast;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * GGML's block_q8_K: {@link #VALUES} values in {@link #BYTES} bytes, a float32 scale d at {@link #D}, 256 int8 codes
 * at {@link #QS} and 16 int16 sums of groups of 16 codes at {@link #BSUMS} (for GGML's dot products; not needed to
 * dequantize). Value = d * q.
 */
public final class Q8_KBlock {
    public static final int VALUES = 256;
    public static final int BYTES = 292;
    public static final int D = 0;
    public static final int QS = 4;
    public static final int BSUMS = QS + VALUES;

    private Q8_KBlock() {}

    /** The block at byte {@code block} of {@code s} into {@code out[at .. at + 256)}. */
    public static void dequantize(MemorySegment s, long block, float[] out, int at) {
        float d = s.get(FloatCast.F32_LE, block + D);
        for (int j = 0; j < VALUES; j++) {
            out[at + j] = d * s.get(ValueLayout.JAVA_BYTE, block + QS + j);
        }
    }
}
