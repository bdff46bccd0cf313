package dev.arica.runtime.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The two merge loops (a scan for words, a queue for long sequences) make the same merges; the pair table finds what it holds. */
class BpeMergerTest {

    /** Random merges over a small alphabet, with tied priorities (0.0 and -0.0 among them) so that leftmost-first matters. */
    private static BpeMerger.PairRule randomRule(Random r) {
        Map<Long, int[]> merges = new HashMap<>();
        double[] priorities = {0.0, -0.0, 1, 1, 2, 3, -1};
        for (int k = 0; k < 40; k++) {
            int left = r.nextInt(12), right = r.nextInt(12);
            merges.putIfAbsent(((long) left << 32) | right, new int[] {r.nextInt(12), r.nextInt(priorities.length)});
        }
        return new BpeMerger.PairRule() {
            @Override
            public int merged(int left, int right) {
                int[] m = merges.get(((long) left << 32) | right);
                return m == null ? -1 : m[0];
            }

            @Override
            public double priority(int left, int right, int merged) {
                return priorities[merges.get(((long) left << 32) | right)[1]];
            }
        };
    }

    @Test
    void scanningAndQueueMergeAlike() {
        Random r = new Random(14);
        for (int trial = 0; trial < 3000; trial++) {
            BpeMerger.PairRule rule = randomRule(r);
            int[] ids = r.ints(2 + r.nextInt(80), 0, 12).toArray();
            assertArrayEquals(BpeMerger.mergeWithQueue(ids, rule), BpeMerger.mergeByScanning(ids, rule), Arrays.toString(ids));
        }
    }

    @Test
    void pairTableFindsWhatItHolds() {
        PairTable t = new PairTable(1000);
        Random r = new Random(3);
        Map<Long, int[]> expected = new HashMap<>();
        for (int k = 0; k < 1000; k++) {
            int left = r.nextInt(60), right = r.nextInt(60);
            boolean fresh = expected.putIfAbsent(((long) left << 32) | right, new int[] {k, -k}) == null;
            assertEquals(fresh, t.putIfAbsent(left, right, k, -k));
        }
        for (int left = 0; left < 60; left++) {
            for (int right = 0; right < 60; right++) {
                int[] e = expected.get(((long) left << 32) | right);
                int at = t.find(left, right);
                if (e == null) {
                    assertEquals(-1, at);
                } else {
                    assertTrue(at >= 0);
                    assertEquals(e[0], t.first(at));
                    assertEquals(e[1], t.second(at));
                }
            }
        }
        assertFalse(t.find(1 << 20, 7) >= 0);
    }
}
