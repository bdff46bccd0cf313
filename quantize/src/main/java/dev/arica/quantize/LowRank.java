package dev.arica.quantize;

/**
 * A row of a low-rank update, row += b · A for A [rank, n] row-major and b [rank]: what merging a LoRA adapter adds
 * to each output row of a weight. The vector kernel and its scalar twin give identical floats (the same operations
 * in the same order); {@code -Darica.scalar=true} forces the scalar one.
 */
public final class LowRank {
    private LowRank() {}

    /** row[i] += sum over k of b[k] * a[k * n + i], for i < n. */
    public static void addRow(float[] row, float[] a, float[] b, int n) {
        if (Kernels.VECTOR) {
            VectorKernels.lowRankRow(row, a, b, n);
        } else {
            scalar(row, a, b, n, 0);
        }
    }

    /** The scalar twin, from element {@code from} on: the vector kernel's tail, and the reference. */
    static void scalar(float[] row, float[] a, float[] b, int n, int from) {
        for (int i = from; i < n; i++) {
            float acc = row[i];
            for (int k = 0; k < b.length; k++) {
                acc = acc + a[k * n + i] * b[k];
            }
            row[i] = acc;
        }
    }
}
