package dev.arica.quantize.tune;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Scale tuning on a synthetic model whose projections carry a per-group error that a scale can undo. */
class ScaleTunerTest {
    @TempDir
    Path dir;

    private static final int GROUP = 8;

    /** Every projection with each group of {@link #GROUP} scaled by a random factor in [0.7, 1.3]. */
    private static Map<String, ScaleTuner.Quantized> misScaled(LlamaWeights w, long seed) {
        Random r = new Random(seed);
        Map<String, ScaleTuner.Quantized> out = new LinkedHashMap<>();
        for (int i = 0; i < w.matrices.length - 1; i++) {
            float[] v = w.matrices[i].clone();
            int cols = w.columns(i);
            for (int row = 0; row < v.length / cols; row++) {
                for (int g = 0; g < cols; g += GROUP) {
                    float f = 0.7f + 0.6f * r.nextFloat();
                    for (int j = g; j < Math.min(cols, g + GROUP); j++) {
                        v[row * cols + j] *= f;
                    }
                }
            }
            out.put(w.names().get(i), new ScaleTuner.Quantized(v, GROUP));
        }
        return out;
    }

    /** Every projection quantized without error. */
    private static Map<String, ScaleTuner.Quantized> exact(LlamaWeights w) {
        Map<String, ScaleTuner.Quantized> out = new LinkedHashMap<>();
        for (int i = 0; i < w.matrices.length - 1; i++) {
            out.put(w.names().get(i), new ScaleTuner.Quantized(w.matrices[i].clone(), GROUP));
        }
        return out;
    }

    private static List<int[]> sequences(int n, int length, int vocab, long seed) {
        Random r = new Random(seed);
        List<int[]> out = new ArrayList<>();
        for (int s = 0; s < n; s++) {
            int[] ids = new int[length];
            ids[0] = 1;
            for (int i = 1; i < length; i++) {
                ids[i] = r.nextInt(vocab);
            }
            out.add(ids);
        }
        return out;
    }

    @Test
    void tuningBringsTheHeldOutLossDownAndIsRepeatable() throws IOException, InterruptedException {
        LlamaWeights w = LlamaPassTest.synthetic(dir, false, 5);
        Map<String, ScaleTuner.Quantized> q = misScaled(w, 9);
        List<int[]> data = sequences(24, 12, w.config().vocab(), 3);
        ScaleTuner.Settings settings = new ScaleTuner.Settings(60, 6, 1e-2, 5, 2, 1);
        ScaleTuner.Result r = ScaleTuner.tune(w, w, q, data, settings, step -> {});
        assertEquals(21, r.trainingSequences());
        assertEquals(3, r.heldOutSequences());
        assertEquals(q.size(), r.factors().size());
        assertTrue(r.bestStep() > 0, "no step improved the held-out loss");
        assertTrue(r.heldOutAfter() < 0.6 * r.heldOutBefore(),
                "held-out KL " + r.heldOutBefore() + " -> " + r.heldOutAfter());
        // The factors move toward undoing the errors: the mean |factor * error - 1| shrinks.
        double before = 0;
        double after = 0;
        int n = 0;
        for (int i = 0; i < w.matrices.length - 1; i++) {
            String name = w.names().get(i);
            float[] f = r.factors().get(name);
            float[] v = q.get(name).values();
            int cols = w.columns(i);
            int groups = (cols + GROUP - 1) / GROUP;
            for (int row = 0; row < v.length / cols; row++) {
                for (int g = 0; g < groups; g++) {
                    int j = row * cols + g * GROUP;
                    double error = v[j] / w.matrices[i][j];
                    before += Math.abs(error - 1);
                    after += Math.abs(error * f[row * groups + g] - 1);
                    n++;
                }
            }
        }
        assertTrue(after < 0.9 * before, "mean scale error " + before / n + " -> " + after / n);
        ScaleTuner.Result again = ScaleTuner.tune(w, w, q, data, settings, step -> {});
        assertEquals(r.heldOutAfter(), again.heldOutAfter());
        for (String name : r.factors().keySet()) {
            assertArrayEquals(r.factors().get(name), again.factors().get(name), name);
        }
    }

    @Test
    void withoutAnImprovementTheFactorsStayOne() throws IOException, InterruptedException {
        LlamaWeights w = LlamaPassTest.synthetic(dir, true, 5);
        Map<String, ScaleTuner.Quantized> exact = exact(w);
        ScaleTuner.Result r = ScaleTuner.tune(w, w, exact, sequences(8, 6, w.config().vocab(), 4),
                new ScaleTuner.Settings(3, 4, 1e-2, 1, 1, 1), step -> {});
        assertEquals(0, r.bestStep());
        assertEquals(0, r.heldOutBefore(), 1e-6);
        for (float[] f : r.factors().values()) {
            for (float x : f) {
                assertEquals(1f, x);
            }
        }
    }

    @Test
    void theStudentComputesWithItsOwnUntunedWeights() throws IOException, InterruptedException {
        LlamaWeights w = LlamaPassTest.synthetic(dir, true, 5);
        Map<String, ScaleTuner.Quantized> exact = exact(w);
        float[] table = w.embedding().clone();
        for (int i = 0; i < table.length; i += 3) {
            table[i] *= 1.5f;
        }
        ScaleTuner.Result r = ScaleTuner.tune(w, w.withEmbedding(table), exact, sequences(8, 6, w.config().vocab(), 4),
                new ScaleTuner.Settings(1, 4, 1e-2, 1, 1, 1), step -> {});
        assertTrue(r.heldOutBefore() > 1e-3, "the changed embedding (and tied head) is the student's: " + r.heldOutBefore());
    }

    @Test
    void refusesWhatItCannotTune() throws IOException {
        LlamaWeights w = LlamaPassTest.synthetic(dir, true, 5);
        List<int[]> data = sequences(4, 5, w.config().vocab(), 4);
        ScaleTuner.Settings s = new ScaleTuner.Settings(1, 1, 1e-2, 1, 1, 1);
        String head = w.names().getLast();
        IllegalArgumentException tied = assertThrows(IllegalArgumentException.class, () -> ScaleTuner.tune(w, w,
                Map.of(head, new ScaleTuner.Quantized(w.matrices[w.matrices.length - 1].clone(), GROUP)), data, s, x -> {}));
        assertTrue(tied.getMessage().contains("untied head"), tied.getMessage());
        String q = w.names().getFirst();
        IllegalArgumentException size = assertThrows(IllegalArgumentException.class, () -> ScaleTuner.tune(w, w,
                Map.of(q, new ScaleTuner.Quantized(new float[3], GROUP)), data, s, x -> {}));
        assertTrue(size.getMessage().contains("3 quantized values"), size.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ScaleTuner.tune(w, w, Map.of(), data.subList(0, 1), s, x -> {}));
    }
}
