package dev.arica.runtime.tokenizer;

import java.util.Arrays;

/**
 * Token ids with the type id of each (0 for the first sequence of a pair, typically 1 for the second), as a
 * post-processor leaves them.
 */
public record Encoding(int[] ids, int[] typeIds) {

    public Encoding {
        if (ids.length != typeIds.length) {
            throw new IllegalArgumentException(ids.length + " ids but " + typeIds.length + " type ids");
        }
        ids = ids.clone();
        typeIds = typeIds.clone();
    }

    /** One sequence, every type id 0. */
    public static Encoding of(int... ids) {
        return new Encoding(ids, new int[ids.length]);
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    @Override
    public int[] typeIds() {
        return typeIds.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Encoding e && Arrays.equals(ids, e.ids) && Arrays.equals(typeIds, e.typeIds);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + Arrays.hashCode(typeIds);
    }

    @Override
    public String toString() {
        return "Encoding[ids=" + Arrays.toString(ids) + ", typeIds=" + Arrays.toString(typeIds) + "]";
    }

    /** Appends runs of ids with their type id. */
    static final class Builder {
        private int[] ids = new int[16];
        private int[] types = new int[16];
        private int n;

        Builder add(int[] run, int typeId) {
            if (n + run.length > ids.length) {
                ids = Arrays.copyOf(ids, Math.max(2 * ids.length, n + run.length));
                types = Arrays.copyOf(types, ids.length);
            }
            System.arraycopy(run, 0, ids, n, run.length);
            Arrays.fill(types, n, n + run.length, typeId);
            n += run.length;
            return this;
        }

        Encoding build() {
            return new Encoding(Arrays.copyOf(ids, n), Arrays.copyOf(types, n));
        }
    }
}
