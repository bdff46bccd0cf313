package dev.arica.runtime.encode;

/**
 * How a sentence embedding is made from an encoder's last hidden state, as sentence-transformers makes it: the mean of
 * the rows of the tokens the attention mask keeps, or the first row ([CLS]); optionally scaled to unit length.
 */
public enum Pooling {
    MEAN,
    CLS;

    /** The pooled vector of {@code hidden} [positions][width] under {@code mask} (null: every position). */
    public float[] pool(float[][] hidden, long[] mask) {
        int width = hidden[0].length;
        if (this == CLS) {
            return hidden[0].clone();
        }
        // Summed in double: a long text's mean stays as exact as a short one's.
        double[] sum = new double[width];
        int kept = 0;
        for (int i = 0; i < hidden.length; i++) {
            if (mask != null && mask[i] == 0) {
                continue;
            }
            kept++;
            for (int j = 0; j < width; j++) {
                sum[j] += hidden[i][j];
            }
        }
        float[] out = new float[width];
        for (int j = 0; j < width; j++) {
            out[j] = (float) (sum[j] / Math.max(kept, 1));
        }
        return out;
    }

    /** {@code v} scaled to unit L2 norm (sentence-transformers' Normalize; a zero vector stays zero). */
    public static float[] normalize(float[] v) {
        double n = 0;
        for (float x : v) {
            n += (double) x * x;
        }
        double norm = Math.max(Math.sqrt(n), 1e-12);
        float[] out = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            out[i] = (float) (v[i] / norm);
        }
        return out;
    }

    /** The cosine of the angle between {@code a} and {@code b}. */
    public static double cosine(float[] a, float[] b) {
        if (a.length != b.length) {
            throw new IllegalArgumentException(a.length + " and " + b.length + " dimensions");
        }
        double dot = 0, na = 0, nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += (double) a[i] * b[i];
            na += (double) a[i] * a[i];
            nb += (double) b[i] * b[i];
        }
        return dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-30);
    }
}
