package dev.arica.runtime.tokenizer;

import java.util.Arrays;

/**
 * Pairs of token ids, each with two ints (for BPE: the id the pair merges into and the merge's rank), in an
 * open-addressing table. A {@code HashMap<Long, ...>} boxes the key of every look-up, and Long's hash
 * ({@code left ^ right}) gives many id pairs the same bucket; encoding does a look-up per adjacent pair.
 * Filled while reading, not changed after, so it is safe to share between threads.
 */
final class PairTable {
    private static final long EMPTY = -1;

    private final long[] keys;
    private final int[] first, second;
    private final int shift;
    private int size;

    /** A table for up to {@code capacity} pairs (at most half full, so probes stay short). */
    PairTable(int capacity) {
        int slots = Integer.highestOneBit(Math.max(2, capacity) * 2 - 1) << 1;
        keys = new long[slots];
        Arrays.fill(keys, EMPTY);
        first = new int[slots];
        second = new int[slots];
        shift = 64 - Integer.numberOfTrailingZeros(slots);
    }

    private static long key(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    /** Where the pair is, or the empty slot it would go in; ids are non-negative, so no key is EMPTY. */
    private int slot(long key) {
        // Fibonacci hashing spreads the pairs of nearby ids over the table.
        int s = (int) ((key * 0x9E3779B97F4A7C15L) >>> shift);
        while (keys[s] != EMPTY && keys[s] != key) {
            s = (s + 1) & (keys.length - 1);
        }
        return s;
    }

    /** Adds the pair with its two values unless it is already there; returns whether it was added. */
    boolean putIfAbsent(int left, int right, int a, int b) {
        if (left < 0 || right < 0) {
            throw new IllegalArgumentException("negative id in pair " + left + ", " + right);
        }
        long key = key(left, right);
        int s = slot(key);
        if (keys[s] == key) {
            return false;
        }
        if (2 * ++size > keys.length) {
            throw new IllegalStateException("more pairs than the table was made for");
        }
        keys[s] = key;
        first[s] = a;
        second[s] = b;
        return true;
    }

    /** The index of the pair for {@link #first} and {@link #second}, or -1 when it is not in the table. */
    int find(int left, int right) {
        long key = key(left, right);
        int s = slot(key);
        return keys[s] == key ? s : -1;
    }

    int first(int index) {
        return first[index];
    }

    int second(int index) {
        return second[index];
    }
}
