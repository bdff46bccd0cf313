package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The low-rank row update: the vector kernel equals its scalar twin bit for bit, tails included. */
class LowRankTest {

    @Test
    void theVectorKernelEqualsTheScalarTwin() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int n : new int[] {1, 3, 7, 8, 15, 16, 17, 31, 64, 100, 172, 2048}) {
            for (int rank : new int[] {1, 4, 16}) {
                float[] a = new float[rank * n];
                float[] b = new float[rank];
                float[] row = new float[n];
                for (int i = 0; i < a.length; i++) {
                    a[i] = (float) rnd.nextGaussian();
                }
                for (int k = 0; k < rank; k++) {
                    b[k] = (float) rnd.nextGaussian();
                }
                for (int i = 0; i < n; i++) {
                    row[i] = (float) rnd.nextGaussian();
                }
                float[] scalar = row.clone();
                LowRank.scalar(scalar, a, b, n, 0);
                float[] chosen = row.clone();
                LowRank.addRow(chosen, a, b, n);
                assertArrayEquals(scalar, chosen, "n " + n + ", rank " + rank);
                float[] vector = row.clone();
                VectorKernels.lowRankRow(vector, a, b, n);
                assertArrayEquals(scalar, vector, "vector kernel, n " + n + ", rank " + rank);
                // The update itself: row + b · A, against a double-precision sum.
                for (int i = 0; i < n; i++) {
                    double want = row[i];
                    for (int k = 0; k < rank; k++) {
                        want += (double) a[k * n + i] * b[k];
                    }
                    org.junit.jupiter.api.Assertions.assertEquals(want, scalar[i], 1e-4 * (1 + Math.abs(want)));
                }
            }
        }
    }
}
