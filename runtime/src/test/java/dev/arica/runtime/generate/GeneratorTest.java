package dev.arica.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class GeneratorTest {

    static final ByteTokenizer BYTES = ByteTokenizer.BYTES;

    @Test
    void promptOnceThenOneTokenPerStepWithTheCacheCarried() throws Exception {
        ScriptedDecoder d = new ScriptedDecoder(256, 0, 'h', 'e', 'y', 0);
        List<String> pieces = new ArrayList<>();
        Generator.Result r = new Generator(d, BYTES).generate(new int[] {'>', ' '}, new Generator.Settings(10, new int[] {0}),
                Sampler.greedy(), pieces::add);
        assertArrayEquals(new int[] {'>', ' ', 'h', 'e', 'y'}, r.ids());
        assertArrayEquals(new int[] {'h', 'e', 'y'}, r.generatedIds());
        assertEquals(List.of("h", "e", "y"), pieces, "text streamed token by token, prompt not repeated");
        assertEquals(Generator.Stop.STOP_TOKEN, r.stop());
        assertEquals(0, r.stopToken());
        // The prompt in one call, then each new token alone at the next position: nothing is fed twice.
        assertEquals(4, d.fedIds.size());
        assertArrayEquals(new long[] {'>', ' '}, d.fedIds.get(0));
        assertArrayEquals(new long[] {0, 1}, d.fedPositions.get(0));
        assertArrayEquals(new long[] {'h'}, d.fedIds.get(1));
        assertArrayEquals(new long[] {2}, d.fedPositions.get(1));
        assertArrayEquals(new long[] {'y'}, d.fedIds.get(3));
        assertArrayEquals(new long[] {4}, d.fedPositions.get(3));
        assertEquals(2, r.promptTokens());
        assertEquals(3, r.generatedTokens());
    }

    @Test
    void withoutATokenizerOnlyIdsAreProduced() throws Exception {
        List<String> pieces = new ArrayList<>();
        Generator.Result r = new Generator(new ScriptedDecoder(256, 0, 'h', 'e', 'y', 0)).generate(new int[] {'>'},
                new Generator.Settings(10, new int[] {0}), Sampler.greedy(), pieces::add);
        assertArrayEquals(new int[] {'>', 'h', 'e', 'y'}, r.ids());
        assertEquals(0, r.stopToken());
        assertEquals(List.of(), pieces, "no text without a tokenizer");
        assertThrows(NullPointerException.class, () -> new Generator(new ScriptedDecoder(256, 0), null));
    }

    @Test
    void eachGeneratedIdIsHandedOnBeforeItsText() throws Exception {
        List<String> events = new ArrayList<>();
        Generator.Result r = new Generator(new ScriptedDecoder(256, 0, 'h', 'i', 0), BYTES).generate(new int[] {'>'},
                new Generator.Settings(10, new int[] {0}), Sampler.greedy(), id -> events.add("id " + id), events::add);
        assertEquals(List.of("id 104", "h", "id 105", "i"), events, "the stop id is not handed on");
        assertArrayEquals(new int[] {'>', 'h', 'i'}, r.ids());
        List<Integer> ids = new ArrayList<>();
        new Generator(new ScriptedDecoder(256, 0, 'a', 'b', 'c')).generate(new int[] {1}, new Generator.Settings(3, new int[0]),
                Sampler.greedy(), ids::add, s -> events.add("text without a tokenizer: " + s));
        assertEquals(List.of((int) 'a', (int) 'b', (int) 'c'), ids, "without a tokenizer too, up to --max-new-tokens");
        assertEquals(4, events.size());
    }

    @Test
    void anyStopIdStopsAndIsNotKept() throws Exception {
        int[] stops = {2, 1};
        ScriptedDecoder d = new ScriptedDecoder(256, 0, 'a', 'b', 1, 'c');
        Generator.Result r = new Generator(d, BYTES).generate(new int[] {1}, new Generator.Settings(10, stops), Sampler.greedy(), s -> {});
        assertArrayEquals(new int[] {1, 'a', 'b'}, r.ids());
        assertEquals(Generator.Stop.STOP_TOKEN, r.stop());
        assertEquals(1, r.stopToken());
        d = new ScriptedDecoder(256, 0, 'a', 2);
        r = new Generator(d, BYTES).generate(new int[] {1}, new Generator.Settings(10, stops), Sampler.greedy(), s -> {});
        assertEquals(2, r.stopToken());
        assertArrayEquals(new int[] {1, 'a'}, r.ids());
    }

    @Test
    void maxNewTokensAndNoForwardForTheLastToken() throws Exception {
        ScriptedDecoder d = new ScriptedDecoder(256, 0, 'a', 'b', 'c', 'd', 'e');
        Generator.Result r = new Generator(d, BYTES).generate(new int[] {1, 2, 3}, new Generator.Settings(3, new int[0]),
                Sampler.greedy(), s -> {});
        assertArrayEquals(new int[] {1, 2, 3, 'a', 'b', 'c'}, r.ids());
        assertEquals(Generator.Stop.MAX_TOKENS, r.stop());
        assertEquals(-1, r.stopToken());
        assertEquals(3, d.fedIds.size(), "prefill + 2 steps: the third token's logits are never needed");

        ScriptedDecoder none = new ScriptedDecoder(256, 0);
        r = new Generator(none, BYTES).generate(new int[] {1, 2}, new Generator.Settings(0, new int[0]), Sampler.greedy(), s -> {});
        assertArrayEquals(new int[] {1, 2}, r.ids());
        assertEquals(0, none.fedIds.size());
    }

    @Test
    void aCharacterSplitAcrossTokensIsStreamedWhenComplete() throws Exception {
        // "é" is C3 A9: the first token completes nothing.
        ScriptedDecoder d = new ScriptedDecoder(256, 0, 'x', 0xC3, 0xA9, '!', 0);
        List<String> pieces = new ArrayList<>();
        new Generator(d, BYTES).generate(new int[] {'>'}, new Generator.Settings(10, new int[] {0}), Sampler.greedy(), pieces::add);
        assertEquals(List.of("x", "é", "!"), pieces);
        // Cut off after the first half: the end of generation flushes it as U+FFFD.
        pieces.clear();
        new Generator(new ScriptedDecoder(256, 0, 'x', 0xC3, 0xA9), BYTES).generate(new int[] {'>'},
                new Generator.Settings(2, new int[0]), Sampler.greedy(), pieces::add);
        assertEquals(List.of("x", "\uFFFD"), pieces);
    }

    @Test
    void contextLengthBoundsGeneration() throws Exception {
        ScriptedDecoder d = new ScriptedDecoder(256, 6, 'a', 'b', 'c', 'd');
        Generator.Result r = new Generator(d, BYTES).generate(new int[] {1, 2, 3, 4}, new Generator.Settings(10, new int[0]),
                Sampler.greedy(), s -> {});
        assertArrayEquals(new int[] {1, 2, 3, 4, 'a', 'b'}, r.ids());
        assertEquals(Generator.Stop.CONTEXT_FULL, r.stop());
        r = new Generator(new ScriptedDecoder(256, 6, 'a', 'b'), BYTES).generate(new int[] {1, 2, 3, 4},
                new Generator.Settings(2, new int[0]), Sampler.greedy(), s -> {});
        assertEquals(Generator.Stop.MAX_TOKENS, r.stop(), "the budget ran out at the same time");
        r = new Generator(new ScriptedDecoder(256, 4, 'a', 'b'), BYTES).generate(new int[] {1, 2, 3, 4},
                new Generator.Settings(10, new int[0]), Sampler.greedy(), s -> {});
        assertArrayEquals(new int[] {1, 2, 3, 4, 'a'}, r.ids(), "a prompt filling the context gets one token, never fed");
        assertEquals(Generator.Stop.CONTEXT_FULL, r.stop());
        assertThrows(IllegalArgumentException.class, () -> new Generator(new ScriptedDecoder(256, 3), BYTES)
                .generate(new int[] {1, 2, 3, 4}, new Generator.Settings(1, new int[0]), Sampler.greedy(), s -> {}));
        assertThrows(IllegalArgumentException.class, () -> new Generator(new ScriptedDecoder(256, 0), BYTES)
                .generate(new int[0], new Generator.Settings(1, new int[0]), Sampler.greedy(), s -> {}));
    }

    @Test
    void eachGenerationStartsFromAnEmptyCacheAndReportsSpeed() throws Exception {
        ScriptedDecoder d = new ScriptedDecoder(256, 0, 'a', 'b', 'a', 'b');
        Generator g = new Generator(d, BYTES);
        g.generate(new int[] {1}, new Generator.Settings(2, new int[0]), Sampler.greedy(), s -> {});
        Generator.Result r = g.generate(new int[] {1, 1}, new Generator.Settings(2, new int[0]), Sampler.greedy(), s -> {});
        assertEquals(2, d.resets);
        assertArrayEquals(new long[] {0, 1}, d.fedPositions.get(2), "the second prompt starts at position 0");
        assertTrue(r.prefill().toNanos() > 0 && r.decode().toNanos() > 0);
        assertTrue(r.promptTokensPerSecond() > 0 && Double.isFinite(r.promptTokensPerSecond()));
        assertTrue(r.generationTokensPerSecond() > 0 && Double.isFinite(r.generationTokensPerSecond()));
    }
}
