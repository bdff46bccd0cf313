package dev.arica.runtime.tokenizer;

import java.util.Arrays;
import java.util.PriorityQueue;

/**
 * The merge loop both BPE variants share: repeatedly merge the adjacent pair with the best (lowest)
 * priority, the leftmost on ties, until no adjacent pair merges. Only the pair rule differs: llama2.c
 * ranks by the merged piece's score, Hugging Face by the merge's line in {@code merges}.
 */
final class BpeMerger {

    /** Which adjacent pairs merge, into what, and in which order. */
    interface PairRule {
        /** The id the pair merges into, or -1 when it does not merge. */
        int merged(int left, int right);

        /** Lower merges first; only asked for pairs that merge. */
        double priority(int left, int right, int merged);
    }

    private record Candidate(double priority, int pos, int left, int right, int merged) {}

    private BpeMerger() {}

    /** Merges {@code ids} in place of a copy and returns the merged sequence. */
    static int[] merge(int[] ids, PairRule rule) {
        int n = ids.length;
        if (n < 2) {
            return ids.clone();
        }
        int[] sym = ids.clone();
        int[] next = new int[n];
        int[] prev = new int[n];
        boolean[] dead = new boolean[n];
        for (int i = 0; i < n; i++) {
            next[i] = i + 1 < n ? i + 1 : -1;
            prev[i] = i - 1;
        }
        // Positions are the start index of a symbol's first piece, so leftmost = smallest position.
        PriorityQueue<Candidate> queue = new PriorityQueue<>((a, b) -> a.priority != b.priority
                ? Double.compare(a.priority, b.priority) : Integer.compare(a.pos, b.pos));
        for (int i = 0; i + 1 < n; i++) {
            offer(queue, rule, i, sym[i], sym[i + 1]);
        }
        while (!queue.isEmpty()) {
            Candidate c = queue.poll();
            int j = next[c.pos];
            // Stale when either symbol has since been merged into something else.
            if (dead[c.pos] || j < 0 || sym[c.pos] != c.left || sym[j] != c.right) {
                continue;
            }
            sym[c.pos] = c.merged;
            dead[j] = true;
            next[c.pos] = next[j];
            if (next[j] >= 0) {
                prev[next[j]] = c.pos;
                offer(queue, rule, c.pos, c.merged, sym[next[j]]);
            }
            if (prev[c.pos] >= 0) {
                offer(queue, rule, prev[c.pos], sym[prev[c.pos]], c.merged);
            }
        }
        int[] out = new int[n];
        int k = 0;
        for (int i = 0; i >= 0; i = next[i]) {
            out[k++] = sym[i];
        }
        return Arrays.copyOf(out, k);
    }

    private static void offer(PriorityQueue<Candidate> queue, PairRule rule, int pos, int left, int right) {
        int merged = rule.merged(left, right);
        if (merged >= 0) {
            queue.add(new Candidate(rule.priority(left, right, merged), pos, left, right, merged));
        }
    }
}
