package dev.arica.runtime.tokenizer;

import java.util.Arrays;

/** A growable list of ints: the token ids of one encode call, without boxing each one. Not thread-safe. */
final class IntList {
    private int[] values = new int[16];
    private int size;

    void add(int v) {
        if (size == values.length) {
            values = Arrays.copyOf(values, 2 * size);
        }
        values[size++] = v;
    }

    void addAll(IntList other) {
        if (size + other.size > values.length) {
            values = Arrays.copyOf(values, Math.max(2 * values.length, size + other.size));
        }
        System.arraycopy(other.values, 0, values, size, other.size);
        size += other.size;
    }

    int size() {
        return size;
    }

    int[] toArray() {
        return Arrays.copyOf(values, size);
    }
}
