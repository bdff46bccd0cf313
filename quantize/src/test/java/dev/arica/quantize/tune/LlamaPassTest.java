package dev.arica.quantize.tune;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.testing.Stories260K;
import dev.arica.testdata.SyntheticLlama;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The backward pass against central finite differences of the distillation loss, weight by weight. */
class LlamaPassTest {
    @TempDir
    Path dir;

    static LlamaWeights synthetic(Path dir, boolean tied, long seed) throws IOException {
        SyntheticLlama.Spec spec = new SyntheticLlama.Spec(16, 24, 2, 4, 2, 40, 64, tied, DType.F32, 0.3, seed);
        Path hf = dir.resolve("llama-" + tied + "-" + seed);
        SyntheticLlama.write(hf, spec, Long.MAX_VALUE, Progress.NONE);
        try (Checkpoint c = Checkpoint.open(hf)) {
            ModelDescription d = ModelDescription.of(c, "test");
            return LlamaWeights.read(c, d.decoder(), d.tensors());
        }
    }

    /** The student: every matrix of {@code w} with each element scaled by 1 + noise, as quantization would. */
    static LlamaWeights perturbed(LlamaWeights w, double noise, long seed) {
        Random r = new Random(seed);
        float[][] m = new float[w.matrices.length][];
        for (int i = 0; i < m.length; i++) {
            if (i == m.length - 1 && w.tied()) {
                continue;
            }
            m[i] = w.matrices[i].clone();
            for (int j = 0; j < m[i].length; j++) {
                m[i][j] *= (float) (1 + noise * r.nextGaussian());
            }
        }
        return w.with(m);
    }

    private static double loss(LlamaWeights student, float[] teacher, int[] ids) {
        float[] logits = new LlamaPass(student, ids).forward();
        return LlamaPass.distillation(logits, teacher, student.config().vocab(), 0, null) / ids.length;
    }

    @Test
    void forwardGivesTheReferenceLogitsOfStories260K() throws IOException {
        float[][] ref = Stories260K.referenceLogits();
        int[] ids = Arrays.copyOf(Stories260K.greedy().getFirst().ids(), ref.length);
        try (Checkpoint c = Checkpoint.open(Stories260K.checkpoint(), Stories260K.tokenizer())) {
            ModelDescription d = ModelDescription.of(c, "test");
            LlamaWeights w = LlamaWeights.read(c, d.decoder(), d.tensors());
            float[] got = new LlamaPass(w, ids).forward();
            double worst = 0;
            for (int p = 0; p < ref.length; p++) {
                for (int j = 0; j < Stories260K.VOCAB; j++) {
                    worst = Math.max(worst, Math.abs(ref[p][j] - got[p * Stories260K.VOCAB + j]));
                }
            }
            assertTrue(worst <= 1e-4, "largest difference from the reference C implementation's logits: " + worst);
        }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void gradientsMatchFiniteDifferences(boolean tied) throws IOException {
        LlamaWeights teacherWeights = synthetic(dir, tied, 7);
        LlamaWeights student = perturbed(teacherWeights, 0.2, 3);
        int[] ids = {1, 5, 17, 39, 2, 8, 8, 30, 11};
        int vocab = student.config().vocab();
        float[] teacher = LlamaPass.logSoftmax(new LlamaPass(teacherWeights, ids).forward(), vocab);
        float[][] grads = new float[student.matrices.length][];
        for (int i = 0; i < grads.length; i++) {
            grads[i] = new float[student.matrices[i].length];
        }
        LlamaPass pass = new LlamaPass(student, ids);
        float[] dLogits = new float[ids.length * vocab];
        LlamaPass.distillation(pass.forward(), teacher, vocab, 1f / ids.length, dLogits);
        pass.backward(dLogits, grads);

        Random r = new Random(11);
        double eps = 1e-2;
        int checked = 0;
        for (int i = 0; i < grads.length; i++) {
            double largest = 0;
            for (float g : grads[i]) {
                largest = Math.max(largest, Math.abs(g));
            }
            assertTrue(largest > 1e-5, "matrix " + student.names().get(i) + " has no gradient");
            for (int probe = 0; probe < 6; probe++) {
                int j = r.nextInt(grads[i].length);
                int index = i;
                LlamaWeights plus = moved(student, i, j, (float) eps);
                LlamaWeights minus = moved(student, i, j, (float) -eps);
                double numeric = (loss(plus, teacher, ids) - loss(minus, teacher, ids)) / (2 * eps);
                assertEquals(numeric, grads[i][j], 2e-3 * largest,
                        () -> student.names().get(index) + "[" + j + "]: analytic " + grads[index][j] + ", numeric " + numeric);
                checked++;
            }
        }
        assertEquals(grads.length * 6, checked);
    }

    /** {@code w} with element j of matrix i moved by {@code by}. */
    private static LlamaWeights moved(LlamaWeights w, int i, int j, float by) {
        float[][] m = new float[w.matrices.length][];
        m[i] = w.matrices[i].clone();
        m[i][j] += by;
        return w.with(m);
    }
}
