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
        return n <= SCAN_UP_TO ? mergeByScanning(ids, rule) : mergeWithQueue(ids, rule);
    }

    /** Merges with a priority queue of the candidate pairs: for long sequences (llama2.c encodes the whole text as one). */
    static int[] mergeWithQueue(int[] ids, PairRule rule) {
        int n = ids.length;
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

    /** Up to this many symbols (a word, mostly) a scan for the best pair beats the queue and its garbage. */
    static final int SCAN_UP_TO = 48;

    /**
     * The same merges as the queue makes: each step scans the adjacent pairs for the lowest priority (the
     * leftmost on ties) and merges it, and only the pairs beside it are looked up again.
     */
    static int[] mergeByScanning(int[] ids, PairRule rule) {
        int n = ids.length;
        int[] sym = ids.clone();
        // merged[i], priority[i]: what sym[i] and sym[i + 1] merge into (-1: nothing) and how soon.
        int[] merged = new int[n];
        double[] priority = new double[n];
        for (int i = 0; i + 1 < n; i++) {
            look(rule, sym, i, merged, priority);
        }
        while (true) {
            int best = -1;
            for (int i = 0; i + 1 < n; i++) {
                // Ordered as the queue orders them: 0.0 and -0.0 tie, so the leftmost wins.
                if (merged[i] >= 0 && (best < 0 || priority[i] != priority[best] && Double.compare(priority[i], priority[best]) < 0)) {
                    best = i;
                }
            }
            if (best < 0) {
                return Arrays.copyOf(sym, n);
            }
            sym[best] = merged[best];
            int tail = n - best - 2;
            System.arraycopy(sym, best + 2, sym, best + 1, tail);
            System.arraycopy(merged, best + 2, merged, best + 1, tail);
            System.arraycopy(priority, best + 2, priority, best + 1, tail);
            n--;
            if (best + 1 < n) {
                look(rule, sym, best, merged, priority);
            }
            if (best > 0) {
                look(rule, sym, best - 1, merged, priority);
            }
        }
    }

    private static void look(PairRule rule, int[] sym, int i, int[] merged, double[] priority) {
        merged[i] = rule.merged(sym[i], sym[i + 1]);
        if (merged[i] >= 0) {
            priority[i] = rule.priority(sym[i], sym[i + 1], merged[i]);
        }
    }

    private static void offer(PriorityQueue<Candidate> queue, PairRule rule, int pos, int left, int right) {
        int merged = rule.merged(left, right);
        if (merged >= 0) {
            queue.add(new Candidate(rule.priority(left, right, merged), pos, left, right, merged));
        }
    }
}
