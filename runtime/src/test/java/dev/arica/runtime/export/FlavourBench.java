package dev.arica.runtime.export;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.testing.Stories260K;
import dev.arica.runtime.export.OnnxExporter.Flavour;
import dev.arica.testdata.SyntheticLlama;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * Time per decoding step (one token, a cache of 64 positions) of both flavours in ONNX Runtime on the CPU,
 * for stories260K and the BENCH synthetic model (hidden 2048, 8 layers, vocab 32000; about 2.2 GB written to
 * a temporary directory and deleted afterwards). A measurement to run by hand, not a test.
 *
 * With {@code diffs}, prints instead the largest logit differences of both flavours from the references
 * (stories260K's C reference, the float64 forward pass on the synthetic presets) and from each other.
 *
 * <p>Arguments: [stories|bench|both|diffs] [intra-op threads, default 2] [timed steps, default 200 / 30]
 * [cache length, default 64].
 */
final class FlavourBench {
    private FlavourBench() {}

    /** Cache length of the timed steps. */
    static int past = 64;

    public static void main(String[] args) throws Exception {
        String which = args.length > 0 ? args[0] : "both";
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        past = args.length > 3 ? Integer.parseInt(args[3]) : past;
        Path tmp = Files.createTempDirectory("arica-flavour-bench");
        try {
            if (which.equals("diffs")) {
                diffs(tmp);
                return;
            }
            if (!which.equals("bench")) {
                Path bin = Stories260K.checkpoint();
                run("stories260K", bin, tmp, threads, args.length > 2 ? Integer.parseInt(args[2]) : 200);
            }
            if (!which.equals("stories")) {
                Path hf = tmp.resolve("bench-hf");
                SyntheticLlama.write(hf, SyntheticLlama.Preset.BENCH.spec(), Long.MAX_VALUE, Progress.NONE);
                run("BENCH", hf, tmp, threads, args.length > 2 ? Integer.parseInt(args[2]) : 30);
            }
        } finally {
            try (Stream<Path> s = Files.walk(tmp)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void diffs(Path tmp) throws Exception {
        float[][] ref = Stories260K.referenceLogits();
        long[] ids = Arrays.copyOf(Stories260K.greedy().getFirst().idsLong(), ref.length);
        Map<String, float[][]> got = new LinkedHashMap<>();
        for (DType t : new DType[] {DType.F32, DType.F16}) {
            for (Flavour f : Flavour.values()) {
                Path out = tmp.resolve("stories-" + f.id + "-" + t);
                try (Checkpoint c = Checkpoint.open(Stories260K.checkpoint())) {
                    OnnxExporter.export(c, out, OnnxExporter.Options.defaults().withFlavour(f).withWeightType(t),
                            Progress.NONE);
                }
                try (OrtDecoder d = new OrtDecoder(out)) {
                    float[][] l = d.prompt(ids).logits()[0];
                    got.put(f.id + " " + t, l);
                    // Cached steps: a prompt of 8, then one token per call up to 256.
                    OrtDecoder.Step st = d.prompt(Arrays.copyOf(ids, 8));
                    double cached = 0;
                    for (int p = 8; p < ids.length; p++) {
                        st = d.next(ids[p], p, st.cache());
                        cached = Math.max(cached, Stories260KExportTest.maxAbsDiff(ref[p], st.logits()[0][0]));
                    }
                    System.out.printf("stories260K %-14s %s: prompt of 256 vs C reference %.3g, cached steps vs C reference %.3g%n",
                            f.id, t, Stories260KExportTest.worst(ref, l), cached);
                }
            }
        }
        System.out.printf("stories260K standard vs ort-optimized, f32: %.3g, f16: %.3g%n",
                Stories260KExportTest.worst(got.get("standard F32"), got.get("ort-optimized F32")),
                Stories260KExportTest.worst(got.get("standard F16"), got.get("ort-optimized F16")));
        for (SyntheticLlama.Preset p : new SyntheticLlama.Preset[] {SyntheticLlama.Preset.TINY,
                SyntheticLlama.Preset.TINY_GQA, SyntheticLlama.Preset.TINY_UNTIED}) {
            SyntheticLlama.Spec s = SyntheticExportTest.sharp(p);
            Path hf = tmp.resolve("hf-" + p);
            SyntheticLlama.write(hf, s, Long.MAX_VALUE, Progress.NONE);
            long[] t = SyntheticExportTest.tokens(s, 19, 7);
            double[][] want;
            try (Checkpoint c = Checkpoint.open(hf)) {
                want = new ReferenceLlama(c, s, 1e-5, 10000.0, w -> w).logits(t, SyntheticExportTest.range(0, t.length));
            }
            for (Flavour f : Flavour.values()) {
                Path out = tmp.resolve(p + "-" + f.id);
                try (Checkpoint c = Checkpoint.open(hf)) {
                    OnnxExporter.export(c, out, OnnxExporter.Options.defaults().withFlavour(f), Progress.NONE);
                }
                try (OrtDecoder d = new OrtDecoder(out)) {
                    float[][] l = d.prompt(t).logits()[0];
                    double m = 0;
                    for (int i = 0; i < l.length; i++) {
                        m = Math.max(m, SyntheticExportTest.diff(want[i], l[i]));
                    }
                    System.out.printf("%-11s %-14s vs float64 reference: %.3g%n", p, f.id, m);
                }
            }
        }
    }

    /** Rounds in which the flavours take turns, so that the load of a shared machine falls on both alike. */
    static final int ROUNDS = 10;

    private static void run(String label, Path model, Path tmp, int threads, int steps) throws Exception {
        Map<Flavour, Stepper> steppers = new LinkedHashMap<>();
        Map<Flavour, double[]> times = new LinkedHashMap<>();
        try {
            for (Flavour f : Flavour.values()) {
                Path out = tmp.resolve(label + "-" + f.id);
                try (Checkpoint c = Checkpoint.open(model)) {
                    OnnxExporter.export(c, out, OnnxExporter.Options.defaults().withFlavour(f), Progress.NONE);
                }
                steppers.put(f, new Stepper(out, threads));
                times.put(f, new double[steps / ROUNDS * ROUNDS]);
            }
            for (Stepper s : steppers.values()) {
                for (int k = 0; k < Math.max(3, steps / 10); k++) {
                    s.step();
                }
            }
            for (int round = 0; round < ROUNDS; round++) {
                for (Flavour f : steppers.keySet()) {
                    for (int k = 0; k < steps / ROUNDS; k++) {
                        times.get(f)[round * (steps / ROUNDS) + k] = steppers.get(f).step();
                    }
                }
            }
        } finally {
            for (Stepper s : steppers.values()) {
                s.close();
            }
        }
        for (Map.Entry<Flavour, double[]> e : times.entrySet()) {
            double[] ms = e.getValue();
            Arrays.sort(ms);
            System.out.printf("%-12s %-14s %d threads, past %d: median %.3f ms, min %.3f ms, p90 %.3f ms per step (%d steps)%n",
                    label, e.getKey().id, threads, past, ms[ms.length / 2], ms[0], ms[(int) (ms.length * 0.9)], ms.length);
        }
    }

    /** A session and the inputs of one decoding step after a prompt of {@link #past} tokens. */
    private static final class Stepper implements AutoCloseable {
        final OrtSession session;
        final Map<String, OnnxTensor> in = new LinkedHashMap<>();

        Stepper(Path dir, int threads) throws Exception {
            OrtDecoder probe = new OrtDecoder(dir, OrtSession.SessionOptions.OptLevel.ALL_OPT, threads);
            SplittableRandom r = new SplittableRandom(5);
            long[] prompt = new long[past];
            for (int i = 0; i < past; i++) {
                prompt[i] = r.nextInt(probe.vocab);
            }
            OrtDecoder.Cache cache = probe.prompt(prompt).cache();
            probe.close();
            OrtEnvironment env = OrtEnvironment.getEnvironment();
            try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
                o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
                o.setIntraOpNumThreads(threads);
                o.setInterOpNumThreads(1);
                session = env.createSession(dir.resolve(OnnxExporter.MODEL_FILE).toString(), o);
            }
            in.put(DecoderIo.INPUT_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {7}), new long[] {1, 1}));
            long[] mask = new long[past + 1];
            Arrays.fill(mask, 1);
            in.put(DecoderIo.ATTENTION_MASK, OnnxTensor.createTensor(env, LongBuffer.wrap(mask), new long[] {1, past + 1}));
            in.put(DecoderIo.POSITION_IDS, OnnxTensor.createTensor(env, LongBuffer.wrap(new long[] {past}), new long[] {1, 1}));
            long[] shape = {1, probe.kvHeads, past, probe.headDim};
            for (int i = 0; i < probe.layers; i++) {
                in.put(DecoderIo.pastKey(i), direct(env, cache.keys().get(i), shape));
                in.put(DecoderIo.pastValue(i), direct(env, cache.values().get(i), shape));
            }
        }

        /** Milliseconds of one session.run, outputs included. */
        double step() throws Exception {
            long t0 = System.nanoTime();
            try (OrtSession.Result res = session.run(in)) {
                return (System.nanoTime() - t0) / 1e6;
            }
        }

        @Override
        public void close() throws Exception {
            for (OnnxTensor t : in.values()) {
                t.close();
            }
            session.close();
        }
    }

    private static OnnxTensor direct(OrtEnvironment env, float[] data, long[] shape) throws Exception {
        FloatBuffer b = java.nio.ByteBuffer.allocateDirect(data.length * 4).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
        b.put(data).flip();
        return OnnxTensor.createTensor(env, b, shape);
    }
}
