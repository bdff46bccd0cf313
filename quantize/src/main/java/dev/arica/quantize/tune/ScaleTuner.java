package dev.arica.quantize.tune;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.Json;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.IntConsumer;

/**
 * End-to-end tuning of the group scales of a quantized model (the step-size training of EfficientQAT's E2E-QP, Chen et
 * al. 2024): the codes stay as the quantizer chose them, and each group's scale is multiplied by a factor 1 + delta
 * trained with Adam to bring the quantized model's next-token distributions to the float model's, the loss being the
 * mean of KL(P_float || P_quantized) over every position of the training sequences, computed and differentiated through
 * the whole model ({@link LlamaPass}). The sequences are text sampled from the float model itself (LLM-QAT's data-free
 * distillation): every eighth one is held out, the held-out KL is measured every few steps, and the factors of the
 * lowest held-out KL are returned, so tuning never returns a model worse on unseen text than the one it started from.
 */
public final class ScaleTuner {
    /**
     * @param steps Adam steps
     * @param batch training sequences per step
     * @param learningRate Adam's step size on delta
     * @param evaluateEvery steps between held-out measurements
     * @param threads sequences run at once
     * @param seed of the order the training sequences are visited in
     */
    public record Settings(int steps, int batch, double learningRate, int evaluateEvery, int threads, long seed) {
        public Settings {
            if (steps < 1 || batch < 1 || evaluateEvery < 1 || threads < 1 || !(learningRate > 0)) {
                throw new IllegalArgumentException("tuning needs at least one step, sequence and thread and a positive rate");
            }
        }

        /** {@code steps} of 16 sequences at rate 0.003, measured every 10 steps (docs/quantization.md: how chosen). */
        public static Settings of(int steps, int threads) {
            return new Settings(steps, 16, 3e-3, 10, threads, 1);
        }
    }

    /** A quantized matrix to tune: its dequantized values [out, in] and its groups along the rows. */
    public record Quantized(float[] values, int groupSize) {}

    /**
     * What tuning made: per tuned tensor, the factor of each group's scale ([rows, groups]); the held-out KL (mean over
     * positions, nats) before tuning and at the returned step.
     */
    public record Result(Map<String, float[]> factors, int steps, int bestStep, int trainingSequences, int heldOutSequences,
            long trainingTokens, double heldOutBefore, double heldOutAfter, double seconds) {
        /** The figures (not the factors) for reports and provenance. */
        public ObjectNode json() {
            ObjectNode n = Json.MAPPER.createObjectNode();
            n.put("method", "end-to-end scale tuning");
            n.put("steps", steps);
            n.put("best_step", bestStep);
            n.put("tensors", factors.size());
            n.put("training_sequences", trainingSequences);
            n.put("training_tokens", trainingTokens);
            n.put("held_out_sequences", heldOutSequences);
            n.put("held_out_kl_before", heldOutBefore);
            n.put("held_out_kl_after", heldOutAfter);
            return n;
        }

        /** One line: what was tuned, on what, and the held-out KL before and after. */
        public String describe() {
            return String.format(Locale.ROOT, "%d tensors' scales tuned in %d steps (kept: step %d) on %d sampled sequences "
                    + "(%d tokens); held-out KL %.4f -> %.4f", factors.size(), steps, bestStep, trainingSequences,
                    trainingTokens, heldOutBefore, heldOutAfter);
        }
    }

    private ScaleTuner() {}

    /**
     * Tunes the scales of {@code quantized} (by tensor name; every name a matrix of {@code floats}) on
     * {@code sequences}; {@code progress} hears each finished step.
     *
     * @param floats the float model, the teacher
     * @param student the quantized model's weights that are not tuned (its quantized embedding table, say), the
     *     tuned matrices being replaced; {@code floats} when every other weight is float
     */
    public static Result tune(LlamaWeights floats, LlamaWeights student, Map<String, Quantized> quantized,
            List<int[]> sequences, Settings settings, IntConsumer progress) throws InterruptedException {
        if (!student.config.equals(floats.config)) {
            throw new IllegalArgumentException("the student is not of the float model's config");
        }
        if (sequences.size() < 2) {
            throw new IllegalArgumentException("tuning needs at least 2 sequences (one held out), got " + sequences.size());
        }
        long start = System.nanoTime();
        int n = floats.matrices.length;
        List<Tuned> tuned = new ArrayList<>();
        for (Map.Entry<String, Quantized> e : quantized.entrySet()) {
            int i = floats.indexOf(e.getKey());
            if (i < 0 || i == n - 1 && floats.tied()) {
                throw new IllegalArgumentException(e.getKey() + " is not a projection or an untied head of the model");
            }
            if (e.getValue().values().length != floats.matrices[i].length) {
                throw new IllegalArgumentException(e.getKey() + ": " + e.getValue().values().length
                        + " quantized values for " + floats.matrices[i].length + " weights");
            }
            tuned.add(new Tuned(e.getKey(), i, floats.rows(i), floats.columns(i), e.getValue()));
        }
        List<int[]> train = new ArrayList<>();
        List<int[]> heldOut = new ArrayList<>();
        for (int s = 0; s < sequences.size(); s++) {
            (s % 8 == 7 || s == sequences.size() - 1 && heldOut.isEmpty() ? heldOut : train).add(sequences.get(s));
        }
        try (ExecutorService pool = Executors.newFixedThreadPool(settings.threads())) {
            Teacher teacher = new Teacher(floats, sequences);
            double before = heldOutKl(student, tuned, heldOut, teacher, pool);
            double best = before;
            int bestStep = 0;
            float[][] bestDelta = deltas(tuned);
            Random order = new Random(settings.seed());
            List<int[]> queue = new ArrayList<>();
            long trainingTokens = train.stream().mapToLong(s -> s.length).sum();
            for (int step = 1; step <= settings.steps(); step++) {
                List<int[]> batch = new ArrayList<>();
                while (batch.size() < Math.min(settings.batch(), train.size())) {
                    if (queue.isEmpty()) {
                        queue.addAll(train);
                        Collections.shuffle(queue, order);
                    }
                    batch.add(queue.removeLast());
                }
                gradients(student(student, tuned), tuned, batch, teacher, settings.threads(), pool);
                for (Tuned tu : tuned) {
                    tu.adam(step, settings.learningRate());
                }
                if (step % settings.evaluateEvery() == 0 || step == settings.steps()) {
                    double kl = heldOutKl(student, tuned, heldOut, teacher, pool);
                    if (kl < best) {
                        best = kl;
                        bestStep = step;
                        bestDelta = deltas(tuned);
                    }
                }
                progress.accept(step);
            }
            Map<String, float[]> factors = new LinkedHashMap<>();
            for (int i = 0; i < tuned.size(); i++) {
                float[] f = bestDelta[i].clone();
                for (int j = 0; j < f.length; j++) {
                    f[j] += 1;
                }
                factors.put(tuned.get(i).name, f);
            }
            return new Result(factors, settings.steps(), bestStep, train.size(), heldOut.size(), trainingTokens, before, best,
                    (System.nanoTime() - start) / 1e9);
        }
    }

    /**
     * Each tuned matrix's group gradient of the mean KL over the positions of {@code batch}, for {@code current}: one
     * full gradient per thread over its share of the batch (memory holds threads x the tuned weights), then reduced to
     * the groups in the batch's order, so that the sums do not depend on which thread finishes first.
     */
    private static void gradients(LlamaWeights current, List<Tuned> tuned, List<int[]> batch, Teacher teacher,
            int threads, ExecutorService pool) throws InterruptedException {
        int n = current.matrices.length;
        int vocab = current.config.vocab();
        long positions = batch.stream().mapToLong(s -> s.length).sum();
        List<Future<float[][]>> parts = new ArrayList<>();
        int shares = Math.min(threads, batch.size());
        for (int share = 0; share < shares; share++) {
            List<int[]> mine = batch.subList(share * batch.size() / shares, (share + 1) * batch.size() / shares);
            parts.add(pool.submit(() -> {
                float[][] grads = new float[n][];
                for (Tuned tu : tuned) {
                    grads[tu.matrix] = new float[tu.base.values().length];
                }
                for (int[] s : mine) {
                    LlamaPass pass = new LlamaPass(current, s);
                    float[] dLogits = new float[s.length * vocab];
                    LlamaPass.distillation(pass.forward(), teacher.of(s), vocab, 1f / positions, dLogits);
                    pass.backward(dLogits, grads);
                }
                return grads;
            }));
        }
        for (Tuned tu : tuned) {
            Arrays.fill(tu.gradient, 0);
        }
        for (Future<float[][]> f : parts) {
            float[][] grads = get(f);
            for (Tuned tu : tuned) {
                tu.addGroupGradient(grads[tu.matrix]);
            }
        }
    }

    /** Mean KL per position of the student (the tuned matrices at their current factors) on {@code sequences}. */
    private static double heldOutKl(LlamaWeights base, List<Tuned> tuned, List<int[]> sequences, Teacher teacher,
            ExecutorService pool) throws InterruptedException {
        LlamaWeights student = student(base, tuned);
        int vocab = base.config.vocab();
        List<Future<Double>> parts = new ArrayList<>();
        for (int[] s : sequences) {
            parts.add(pool.submit(() -> LlamaPass.distillation(new LlamaPass(student, s).forward(),
                    teacher.of(s), vocab, 0, null)));
        }
        double sum = 0;
        long positions = 0;
        for (int i = 0; i < parts.size(); i++) {
            sum += get(parts.get(i));
            positions += sequences.get(i).length;
        }
        return sum / positions;
    }

    private static LlamaWeights student(LlamaWeights base, List<Tuned> tuned) {
        float[][] m = new float[base.matrices.length][];
        for (Tuned tu : tuned) {
            m[tu.matrix] = tu.effective();
        }
        return base.with(m);
    }

    private static float[][] deltas(List<Tuned> tuned) {
        float[][] out = new float[tuned.size()][];
        for (int i = 0; i < out.length; i++) {
            out[i] = tuned.get(i).delta.clone();
        }
        return out;
    }

    private static <T> T get(Future<T> f) throws InterruptedException {
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    /**
     * The float model's log-probabilities of each sequence: kept when they fit {@link #CACHED_FLOATS}, else computed
     * again each time they are asked for (a large vocabulary).
     */
    private static final class Teacher {
        private static final long CACHED_FLOATS = 1L << 26;

        private final LlamaWeights floats;
        private final Map<int[], float[]> cache;

        Teacher(LlamaWeights floats, List<int[]> sequences) {
            this.floats = floats;
            long size = sequences.stream().mapToLong(s -> (long) s.length * floats.config.vocab()).sum();
            cache = size <= CACHED_FLOATS ? new IdentityHashMap<>() : null;
            if (cache != null) {
                sequences.forEach(s -> cache.put(s, compute(s)));
            }
        }

        float[] of(int[] sequence) {
            return cache == null ? compute(sequence) : cache.get(sequence);
        }

        private float[] compute(int[] sequence) {
            return LlamaPass.logSoftmax(new LlamaPass(floats, sequence).forward(), floats.config.vocab());
        }
    }

    /** One tuned matrix: delta per group, its gradient and Adam's moments. */
    private static final class Tuned {
        private static final double BETA1 = 0.9;
        private static final double BETA2 = 0.999;
        private static final double EPSILON = 1e-8;

        final String name;
        final int matrix;
        final int rows;
        final int cols;
        final int groupSize;
        final int groups;
        final Quantized base;
        final float[] delta;
        final float[] gradient;
        final float[] m;
        final float[] v;

        Tuned(String name, int matrix, int rows, int cols, Quantized base) {
            this.name = name;
            this.matrix = matrix;
            this.rows = rows;
            this.cols = cols;
            this.groupSize = base.groupSize();
            this.groups = (cols + groupSize - 1) / groupSize;
            this.base = base;
            delta = new float[rows * groups];
            gradient = new float[delta.length];
            m = new float[delta.length];
            v = new float[delta.length];
        }

        /** The quantized values with each group scaled by 1 + delta. */
        float[] effective() {
            float[] out = base.values().clone();
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < cols; j++) {
                    out[r * cols + j] *= 1 + delta[r * groups + j / groupSize];
                }
            }
            return out;
        }

        /** dL/d delta_g = sum over the group of dL/dW * the quantized value. */
        void addGroupGradient(float[] dW) {
            float[] q = base.values();
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < cols; j++) {
                    gradient[r * groups + j / groupSize] += dW[r * cols + j] * q[r * cols + j];
                }
            }
        }

        void adam(int step, double rate) {
            double c1 = 1 - Math.pow(BETA1, step);
            double c2 = 1 - Math.pow(BETA2, step);
            for (int i = 0; i < delta.length; i++) {
                double g = gradient[i];
                m[i] = (float) (BETA1 * m[i] + (1 - BETA1) * g);
                v[i] = (float) (BETA2 * v[i] + (1 - BETA2) * g * g);
                delta[i] -= (float) (rate * (m[i] / c1) / (Math.sqrt(v[i] / c2) + EPSILON));
            }
        }
    }
}
