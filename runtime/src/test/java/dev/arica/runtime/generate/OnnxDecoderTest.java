package dev.arica.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.FormatException;
import dev.arica.runtime.ToyOnnx;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.ExecutionProvider;
import dev.arica.runtime.ort.InferenceSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** OnnxDecoder and Generator on ONNX Runtime (CPU) with the toy decoder graph of {@link ToyOnnx}. */
class OnnxDecoderTest {
    static final int LAYERS = 2, VOCAB = 16;

    @TempDir
    static Path dir;

    @BeforeAll
    static void export() throws Exception {
        ToyOnnx.ort();
        ToyOnnx.decoder(dir.resolve("model.onnx"), LAYERS, VOCAB);
        Files.writeString(dir.resolve(GenAiConfig.FILE), """
                {"num_layers": %d, "num_kv_heads": 1, "head_dim": 1, "vocab_size": %d, "context_length": 64,
                 "eos_token_ids": [15], "bos_token_id": 1, "dtype": "float32"}
                """.formatted(LAYERS, VOCAB));
    }

    /** The ids the toy model produces greedily after {@code prompt}, computed by hand from its rule. */
    static int[] expected(int[] prompt, int steps, int stop) {
        List<Integer> ids = new ArrayList<>(Arrays.stream(prompt).boxed().toList());
        int chunk = prompt.length;
        for (int s = 0; s < steps; s++) {
            int next = ToyOnnx.toyNext(ids.stream().mapToInt(Integer::intValue).toArray(), chunk, LAYERS, VOCAB);
            if (next == stop) {
                break;
            }
            ids.add(next);
            chunk = 1;
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void forwardKeepsTheCacheBetweenSteps() throws Exception {
        try (OnnxDecoder d = OnnxDecoder.open(dir, InferenceSession.Options.of(Device.CPU))) {
            assertEquals(ExecutionProvider.CPU, d.session().provider());
            int[] history = {1, 5, 9};
            float[] logits = d.forward(new long[] {1, 5, 9}, new long[] {0, 1, 2});
            assertEquals(VOCAB, logits.length);
            assertEquals(3, d.cacheLength());
            // (4 + 12) * 15 + 3 + (0 + 1 + 2) = 246; 246 mod 16 = 6.
            assertEquals(6, ToyOnnx.toyNext(history, 3, LAYERS, VOCAB));
            assertEquals(6, Sampler.argmax(logits));
            assertEquals(0f, logits[6], 0f);
            assertEquals(-6f, logits[0]);
            // One more token: only it is fed; the cache supplies the rest. (16 * 21 + 4 + 3) mod 16 = 7.
            logits = d.forward(new long[] {6}, new long[] {3});
            assertEquals(7, Sampler.argmax(logits));
            assertEquals(4, d.cacheLength());
            d.reset();
            assertEquals(0, d.cacheLength());
            assertEquals(6, Sampler.argmax(d.forward(new long[] {1, 5, 9}, new long[] {0, 1, 2})), "reset starts over");
        }
    }

    @Test
    void forwardAllHandsOverEveryPositionsLogits() throws Exception {
        try (OnnxDecoder d = OnnxDecoder.open(dir, InferenceSession.Options.of(Device.CPU))) {
            List<float[]> rows = new ArrayList<>();
            List<Integer> indices = new ArrayList<>();
            d.forwardAll(new long[] {1, 5, 9}, new long[] {0, 1, 2}, (i, logits) -> {
                indices.add(i);
                rows.add(logits.clone());
            });
            assertEquals(List.of(0, 1, 2), indices);
            assertEquals(3, d.cacheLength());
            // The toy graph writes the same row at every position of a run: the one forward returns.
            for (float[] row : rows) {
                assertEquals(VOCAB, row.length);
                assertEquals(6, Sampler.argmax(row));
                assertEquals(-6f, row[0]);
            }
            // One token through forwardAll, then forward continues the same cache.
            List<float[]> one = new ArrayList<>();
            d.forwardAll(new long[] {6}, new long[] {3}, (i, logits) -> one.add(logits.clone()));
            assertEquals(1, one.size());
            assertEquals(7, Sampler.argmax(one.getFirst()));
            assertEquals(4, d.cacheLength());
            // A sink that fails leaves the step done: the cache holds it, the next position follows.
            assertThrows(IllegalStateException.class, () -> d.forwardAll(new long[] {7, 8}, new long[] {4, 5}, (i, l) -> {
                throw new IllegalStateException("sink");
            }));
            assertEquals(6, d.cacheLength());
            assertThrows(IllegalArgumentException.class, () -> d.forwardAll(new long[] {1}, new long[] {0}, (i, l) -> {}));
        }
    }

    @Test
    void generatorMatchesTheHandComputedSequence() throws Exception {
        int[] prompt = {1, 3, 4};
        try (OnnxDecoder d = OnnxDecoder.open(dir, InferenceSession.Options.of(Device.CPU))) {
            Generator g = new Generator(d, ByteTokenizer.letters(VOCAB));
            StringBuilder streamed = new StringBuilder();
            Generator.Result r = g.generate(prompt, new Generator.Settings(20, d.config().eosTokenIds()), Sampler.greedy(), streamed::append);
            int[] want = expected(prompt, 20, 15);
            assertArrayEquals(want, r.ids());
            assertEquals(want.length - 3, r.generatedTokens());
            assertEquals(ByteTokenizer.letters(VOCAB).decode(Arrays.copyOfRange(want, 3, want.length)), streamed.toString());
            assertTrue(r.generatedTokens() > 3, "a real run: " + Arrays.toString(r.ids()));
            assertEquals(r.stop() == Generator.Stop.STOP_TOKEN ? 15 : -1, r.stopToken());
        }
    }

    @Test
    void positionsMustContinueTheCache() throws Exception {
        try (OnnxDecoder d = OnnxDecoder.open(dir, InferenceSession.Options.of(Device.CPU))) {
            d.forward(new long[] {1, 2}, new long[] {0, 1});
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.forward(new long[] {3}, new long[] {0}));
            assertEquals("position 0 at index 0 does not continue the cache of 2 tokens", e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> d.forward(new long[] {16}, new long[] {2}));
            assertThrows(IllegalArgumentException.class, () -> d.forward(new long[0], new long[0]));
            assertEquals(2, d.cacheLength(), "refused calls leave the cache as it was");
            long[] tooMany = new long[63];
            long[] pos = new long[63];
            for (int i = 0; i < 63; i++) {
                pos[i] = 2 + i;
            }
            assertThrows(IllegalArgumentException.class, () -> d.forward(tooMany, pos), "context_length 64");
        }
    }

    @Test
    void aConfigThatDoesNotMatchTheModelIsRefusedBeforeRunning(@TempDir Path other) throws Exception {
        Files.copy(dir.resolve("model.onnx"), other.resolve("model.onnx"));
        Files.writeString(other.resolve(GenAiConfig.FILE), """
                {"num_layers": 3, "num_kv_heads": 1, "head_dim": 1, "vocab_size": 16, "eos_token_ids": [15], "dtype": "float32",
                 "outputs": {"present_key": "present.{i}.k"}}
                """);
        FormatException e = assertThrows(FormatException.class, () -> OnnxDecoder.open(other, InferenceSession.Options.of(Device.CPU)));
        assertEquals(other.resolve("model.onnx") + ": does not match arica-genai.json: inputs the model does not have: "
                + "[past_key_values.2.key, past_key_values.2.value] (it has [input_ids, attention_mask, position_ids, "
                + "past_key_values.0.key, past_key_values.0.value, past_key_values.1.key, past_key_values.1.value]); "
                + "outputs the model does not have: [present.0.k, present.1.k, present.2.k, present.2.value] "
                + "(it has [logits, present.0.key, present.0.value, present.1.key, present.1.value])", e.getMessage());
        // A config naming fewer layers than the model has leaves model inputs unfed.
        Files.writeString(other.resolve(GenAiConfig.FILE), """
                {"num_layers": 1, "num_kv_heads": 1, "head_dim": 1, "vocab_size": 16, "eos_token_ids": [15], "dtype": "float32"}
                """);
        e = assertThrows(FormatException.class, () -> OnnxDecoder.open(other, InferenceSession.Options.of(Device.CPU)));
        assertEquals(other.resolve("model.onnx") + ": does not match arica-genai.json: inputs missing: [past_key_values.1.key, "
                + "past_key_values.1.value]", e.getMessage());
        Files.writeString(other.resolve(GenAiConfig.FILE), """
                {"num_layers": 2, "num_kv_heads": 1, "head_dim": 1, "vocab_size": 17, "eos_token_ids": [15], "dtype": "float32"}
                """);
        e = assertThrows(FormatException.class, () -> OnnxDecoder.open(other, InferenceSession.Options.of(Device.CPU)));
        assertEquals(other.resolve("model.onnx") + ": logits have 16 entries, arica-genai.json says vocab_size 17", e.getMessage());
    }

    @Test
    void closedDecoderRefusesWork() throws Exception {
        OnnxDecoder d = OnnxDecoder.open(dir, InferenceSession.Options.of(Device.CPU));
        d.forward(new long[] {1}, new long[] {0});
        d.close();
        d.close();
        assertThrows(IllegalStateException.class, () -> d.forward(new long[] {1}, new long[] {0}));
        assertThrows(IllegalStateException.class, () -> d.session().run(java.util.Map.of(), null), "the session is closed with it");
    }
}
