package dev.arica.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.Progress;
import dev.arica.formats.io.Json;
import dev.arica.formats.testing.ReferenceModel;
import dev.arica.runtime.ToyOnnx;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Aricate (GRU + additive attention) exported and run incrementally through {@link OnnxDecoder}: the logits at every
 * position within 1e-4 of the reference (a numpy run of the model's definition), the same whether the sequence is fed
 * at once or token by token, and greedy answers id for id, each stopping at its {@code <eos>}.
 */
class AricateDecoderTest {
    private static final ReferenceModel REF = new ReferenceModel("tiny-aricate");

    @TempDir
    static Path tmp;

    static Path exported;

    @BeforeAll
    static void export() throws Exception {
        ToyOnnx.ort();
        exported = tmp.resolve("aricate-onnx");
        try (Checkpoint c = Checkpoint.open(REF.dir())) {
            OnnxExporter.export(c, exported, OnnxExporter.Options.defaults(), Progress.NONE);
        }
    }

    static OnnxDecoder open() throws Exception {
        return OnnxDecoder.open(exported, new InferenceSession.Options(Device.CPU, 1, 0));
    }

    @Test
    void theDescriptionListsTheRecurrentState() throws Exception {
        GenAiConfig g = GenAiConfig.read(exported.resolve(GenAiConfig.FILE));
        assertEquals(2, g.numLayers());
        assertEquals(518, g.vocabSize());
        assertEquals(128, g.contextLength());
        assertArrayEquals(new int[] {3}, g.eosTokenIds());
        assertEquals(-1, g.bosTokenId());
        assertNull(g.inputs().attentionMask());
        assertNull(g.inputs().positionIds());
        List<String> pasts = g.states().stream().map(GenAiConfig.State::past).toList();
        assertEquals(List.of("past_hidden.0", "past_hidden.1", "past_attention_keys", "past_attention_outputs"), pasts);
        assertArrayEquals(new long[] {1, 1, 64}, g.states().get(0).shape());
        assertEquals(-1, g.states().get(0).growAxis());
        assertArrayEquals(new long[] {1, 7, 32}, g.states().get(2).shapeAt(7));
        assertArrayEquals(new long[] {1, 7, 64}, g.states().get(3).shapeAt(7));
    }

    @Test
    void logitsMatchTheReferenceFedAtOnceAndTokenByToken() throws Exception {
        long[] ids = REF.logitIds();
        float[][] want = REF.logits(518);
        long[] positions = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            positions[i] = i;
        }
        float[][] all = new float[ids.length][];
        float[][] stepped = new float[ids.length][];
        try (OnnxDecoder d = open()) {
            d.forwardAll(ids, positions, (i, logits) -> all[i] = logits.clone());
            d.reset();
            // Prompt of 5, then one at a time: the state carried between calls must give the same logits.
            d.forwardAll(java.util.Arrays.copyOf(ids, 5), java.util.Arrays.copyOf(positions, 5), (i, l) -> stepped[i] = l.clone());
            for (int i = 5; i < ids.length; i++) {
                stepped[i] = d.forward(new long[] {ids[i]}, new long[] {i});
            }
            assertEquals(ids.length, d.cacheLength());
        }
        double worst = 0, drift = 0;
        for (int p = 0; p < ids.length; p++) {
            for (int v = 0; v < 518; v++) {
                worst = Math.max(worst, Math.abs(want[p][v] - all[p][v]));
                drift = Math.max(drift, Math.abs(all[p][v] - stepped[p][v]));
            }
        }
        assertTrue(worst <= 1e-4, "largest difference from the reference logits " + worst);
        assertTrue(drift <= 1e-5, "token-by-token run differs from the whole-sequence run by " + drift);
    }

    @Test
    void greedyAnswersMatchTheReferenceAndStopAtEos() throws Exception {
        List<String> lines = Files.readAllLines(REF.dir().resolve("reference/qa.jsonl"));
        assertTrue(lines.size() >= 5, "qa.jsonl has " + lines.size() + " answers");
        try (OnnxDecoder d = open()) {
            for (String line : lines) {
                JsonNode qa = Json.MAPPER.readTree(line);
                long[] want = longs(qa.get("ids"));
                long[] got = greedy(d, longs(qa.get("prompt_ids")), 24);
                assertArrayEquals(want, got, qa.get("question").asText());
            }
            assertArrayEquals(REF.greedyIds(), greedy(d, REF.promptIds(), 24));
        }
    }

    /** The prompt and greedy continuation up to and including {@code <eos>} (id 3). */
    private static long[] greedy(OnnxDecoder d, long[] prompt, int maxNew) throws Exception {
        d.reset();
        List<Long> out = new ArrayList<>();
        long[] positions = new long[prompt.length];
        for (int i = 0; i < prompt.length; i++) {
            positions[i] = i;
            out.add(prompt[i]);
        }
        float[] logits = d.forward(prompt, positions);
        for (int n = 0; n < maxNew; n++) {
            int next = 0;
            for (int v = 1; v < logits.length; v++) {
                if (logits[v] > logits[next]) {
                    next = v;
                }
            }
            out.add((long) next);
            if (next == 3) {
                break;
            }
            logits = d.forward(new long[] {next}, new long[] {out.size() - 1});
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    private static long[] longs(JsonNode a) {
        long[] v = new long[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).asLong();
        }
        return v;
    }
}
