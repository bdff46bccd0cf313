package dev.arica.formats.quant;

import java.lang.foreign.MemorySegment;

/**
 * Turns one block of a GGML type back into floats as GGML's {@code dequantize_row_*} (ggml-quants.c) does: each value
 * the IEEE float result of GGML's expression, evaluated operation by operation (Java neither reorders nor fuses
 * float arithmetic), so that a tensor read by arica holds exactly GGML's values.
 */
@FunctionalInterface
public interface BlockDequantizer {
    /** The values of the block at byte {@code block} of {@code s}, in order, into {@code out[at ..]}. */
    void dequantize(MemorySegment s, long block, float[] out, int at);
}
