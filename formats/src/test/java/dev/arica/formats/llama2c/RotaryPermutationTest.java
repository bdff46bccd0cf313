package dev.arica.formats.llama2c;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class RotaryPermutationTest {

    private static final int[][] SHAPES = {{1, 2}, {1, 4}, {2, 4}, {8, 8}, {4, 8}, {3, 6}, {32, 128}, {5, 64}, {7, 2}};

    @Test
    void knownSmallCases() {
        assertArrayEquals(new int[] {0, 1}, RotaryPermutation.hfFromLlama2c(1, 2));
        assertArrayEquals(new int[] {0, 2, 1, 3}, RotaryPermutation.hfFromLlama2c(1, 4));
        assertArrayEquals(new int[] {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15},
                RotaryPermutation.hfFromLlama2c(2, 8));
        assertArrayEquals(new int[] {0, 2, 1, 3, 4, 6, 5, 7}, RotaryPermutation.llama2cFromHf(2, 4));
        // headSize 6: HF rows (0..2 | 3..5) come from llama2.c rows (0, 2, 4 | 1, 3, 5); the inverse differs.
        assertArrayEquals(new int[] {0, 2, 4, 1, 3, 5}, RotaryPermutation.hfFromLlama2c(1, 6));
        assertArrayEquals(new int[] {0, 3, 1, 4, 2, 5}, RotaryPermutation.llama2cFromHf(1, 6));
    }

    @Test
    void isABijectionThatStaysWithinEachHead() {
        for (int[] s : SHAPES) {
            int heads = s[0], hs = s[1];
            int[] map = RotaryPermutation.hfFromLlama2c(heads, hs);
            assertEquals(heads * hs, map.length);
            boolean[] seen = new boolean[map.length];
            for (int hf = 0; hf < map.length; hf++) {
                int src = map[hf];
                assertTrue(src >= 0 && src < map.length, "in range");
                assertFalse(seen[src], "row " + src + " used twice for " + Arrays.toString(s));
                seen[src] = true;
                assertEquals(hf / hs, src / hs, "row stays in its head");
                // HF row t*half+i pairs with llama2.c row 2i+t.
                int within = hf % hs, half = hs / 2;
                assertEquals(2 * (within % half) + within / half, src % hs);
            }
        }
    }

    @Test
    void inverseComposesToIdentity() {
        for (int[] s : SHAPES) {
            int[] f = RotaryPermutation.hfFromLlama2c(s[0], s[1]);
            int[] g = RotaryPermutation.llama2cFromHf(s[0], s[1]);
            for (int i = 0; i < f.length; i++) {
                assertEquals(i, f[g[i]], "f(g(i)) for " + Arrays.toString(s));
                assertEquals(i, g[f[i]], "g(f(i)) for " + Arrays.toString(s));
            }
        }
    }

    /** out[r] = in[map[r]], row by row. */
    private static byte[] gather(byte[] rows, int[] map, int rowBytes) {
        byte[] out = new byte[rows.length];
        for (int r = 0; r < map.length; r++) {
            System.arraycopy(rows, map[r] * rowBytes, out, r * rowBytes, rowBytes);
        }
        return out;
    }

    @Test
    void permutingRowsAndBackGivesTheOriginalBytes() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int[] s : SHAPES) {
            int rows = s[0] * s[1], rowBytes = 4 * 3;
            byte[] original = new byte[rows * rowBytes];
            rnd.nextBytes(original);
            byte[] hf = gather(original, RotaryPermutation.hfFromLlama2c(s[0], s[1]), rowBytes);
            if (s[1] > 2) {
                assertFalse(Arrays.equals(original, hf), "a non-trivial permutation moves rows");
            }
            byte[] back = gather(hf, RotaryPermutation.llama2cFromHf(s[0], s[1]), rowBytes);
            assertArrayEquals(original, back, Arrays.toString(s));
        }
    }

    /**
     * The permutation's purpose: rotating adjacent pairs of the llama2.c projection gives the same
     * result as rotating half-split pairs of the HF projection, rows reordered.
     */
    @Test
    void adjacentPairRotaryEqualsHalfSplitRotaryAfterPermutation() {
        SplittableRandom rnd = new SplittableRandom(7);
        int heads = 3, hs = 8, half = hs / 2;
        int[] map = RotaryPermutation.hfFromLlama2c(heads, hs);
        for (int pos = 0; pos < 5; pos++) {
            double[] q = new double[heads * hs];
            for (int i = 0; i < q.length; i++) {
                q[i] = rnd.nextDouble(-1, 1);
            }
            double[] l2c = q.clone();
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < half; i++) {
                    double theta = pos / Math.pow(10000, 2.0 * i / hs);
                    int a = h * hs + 2 * i, b = a + 1;
                    double x = l2c[a], y = l2c[b];
                    l2c[a] = x * Math.cos(theta) - y * Math.sin(theta);
                    l2c[b] = x * Math.sin(theta) + y * Math.cos(theta);
                }
            }
            double[] hf = new double[q.length];
            for (int r = 0; r < q.length; r++) {
                hf[r] = q[map[r]];
            }
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < half; i++) {
                    double theta = pos / Math.pow(10000, 2.0 * i / hs);
                    int a = h * hs + i, b = a + half;
                    double x = hf[a], y = hf[b];
                    hf[a] = x * Math.cos(theta) - y * Math.sin(theta);
                    hf[b] = x * Math.sin(theta) + y * Math.cos(theta);
                }
            }
            for (int r = 0; r < q.length; r++) {
                assertEquals(l2c[map[r]], hf[r], 1e-12, "pos " + pos + " row " + r);
            }
        }
    }

    @Test
    void oddHeadSizeIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> RotaryPermutation.hfFromLlama2c(2, 5));
    }
}
