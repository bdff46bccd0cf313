package dev.arica.formats.llama2c;

/**
 * Row order of q_proj/k_proj between the two rotary layouts. llama2.c rotates adjacent pairs
 * (2i, 2i+1) of each head; Hugging Face Llama rotates (i, i + head_size/2). Within each head, HF row
 * {@code t * half + i} is llama2.c row {@code 2i + t} (t in {0, 1}).
 */
public final class RotaryPermutation {
    private RotaryPermutation() {}

    /** {@code map[hfRow] = llama2cRow} for a projection of {@code heads} heads of {@code headSize} rows. */
    public static int[] hfFromLlama2c(int heads, int headSize) {
        if (headSize % 2 != 0) {
            throw new IllegalArgumentException("head size must be even, got " + headSize);
        }
        int half = headSize / 2;
        int[] map = new int[heads * headSize];
        for (int h = 0; h < heads; h++) {
            for (int t = 0; t < 2; t++) {
                for (int i = 0; i < half; i++) {
                    map[h * headSize + t * half + i] = h * headSize + 2 * i + t;
                }
            }
        }
        return map;
    }

    /** The inverse: {@code map[llama2cRow] = hfRow}. */
    public static int[] llama2cFromHf(int heads, int headSize) {
        int[] forward = hfFromLlama2c(heads, headSize);
        int[] inverse = new int[forward.length];
        for (int hf = 0; hf < forward.length; hf++) {
            inverse[forward[hf]] = hf;
        }
        return inverse;
    }
}
