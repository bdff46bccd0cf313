package dev.arica.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ForwardPassTest {

    @Test
    void chunksAreBoundedByTheVocabulary() {
        assertEquals(256, ForwardPass.chunkTokens(512));
        assertEquals(32, ForwardPass.chunkTokens(32_000));
        assertEquals(8, ForwardPass.chunkTokens(128_256));
        assertEquals(1, ForwardPass.chunkTokens(3_000_000));
    }

    @Test
    void everyPositionInOrderFromAnEmptyCacheInChunks() throws Exception {
        int[] script = new int[21];
        int[] ids = new int[20];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 100 + i;
            script[i] = 7 * i;
        }
        // 131072 entries: chunks of 8 tokens.
        ScriptedDecoder d = new ScriptedDecoder(1 << 17, 0, script);
        d.forward(new long[] {5}, new long[] {0});
        List<String> seen = new ArrayList<>();
        ForwardPass.run(d, ids, (i, logits) -> seen.add(i + ":" + Sampler.argmax(logits)));
        assertEquals(1, d.resets, "the decoder's earlier cache is dropped");
        assertEquals(20, seen.size());
        for (int i = 0; i < 20; i++) {
            assertEquals(i + ":" + 7 * i, seen.get(i), "the logits after id " + i + ", in order");
            assertArrayEquals(new long[] {100 + i}, d.fedIds.get(1 + i));
            assertArrayEquals(new long[] {i}, d.fedPositions.get(1 + i));
        }
        assertEquals(3, d.forwardAllPositions.size());
        assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7}, d.forwardAllPositions.get(0));
        assertArrayEquals(new long[] {16, 17, 18, 19}, d.forwardAllPositions.get(2));
        assertThrows(IllegalArgumentException.class, () -> ForwardPass.run(d, new int[0], (i, l) -> {}));
    }
}
