package dev.arica.runtime.export;

import dev.arica.runtime.ToyOnnx;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Size, closeness to the float model and speed of all-MiniLM-L6-v2 variants, measured the same way in one JVM: the
 * texts of {@link MiniLm} embedded {@code batch} at a time, cosines of each embedding to the first model's (the
 * float one), and embeddings per second of passes over all texts: {@code warmup} untimed passes of each model, then
 * {@code runs} rounds timing one pass of each model in turn (so that a change of the machine's load falls on all of
 * them alike); median, min and max of the rounds, and the median over the rounds of the ratio of each model's speed
 * to the second model's in the same round (the comparison; robust to a load that changes between rounds). Sessions
 * on the CPU with {@code threads} intra-op threads, weights prepacked. A measurement run by bench/onnx-quantize.sh,
 * not a test.
 *
 * <p>Arguments: {@code threads batch warmup runs NAME=MODEL.onnx...}; prints a Markdown table.
 */
final class MiniLmQuantizeBench {
    private MiniLmQuantizeBench() {}

    public static void main(String[] args) throws Exception {
        int threads = Integer.parseInt(args[0]);
        int batch = Integer.parseInt(args[1]);
        int warmup = Integer.parseInt(args[2]);
        int runs = Integer.parseInt(args[3]);
        ToyOnnx.ort();
        List<MiniLm.Text> texts = MiniLm.texts();
        int tokens = texts.stream().mapToInt(t -> t.ids().length).sum();
        List<String> names = new ArrayList<>();
        List<Long> sizes = new ArrayList<>();
        List<InferenceSession> sessions = new ArrayList<>();
        try {
            for (int a = 4; a < args.length; a++) {
                names.add(args[a].substring(0, args[a].indexOf('=')));
                Path model = Path.of(args[a].substring(args[a].indexOf('=') + 1));
                Path data = model.resolveSibling(model.getFileName() + ".data");
                sizes.add(Files.size(model) + (Files.exists(data) ? Files.size(data) : 0));
                sessions.add(InferenceSession.open(model, new InferenceSession.Options(Device.CPU, threads, 0, true)));
            }
            List<float[][]> embeddings = new ArrayList<>();
            for (InferenceSession s : sessions) {
                embeddings.add(MiniLm.embed(s, texts, batch));
                for (int i = 0; i < warmup; i++) {
                    MiniLm.embed(s, texts, batch);
                }
            }
            double[][] rates = new double[sessions.size()][runs];
            for (int r = 0; r < runs; r++) {
                for (int m = 0; m < sessions.size(); m++) {
                    long t0 = System.nanoTime();
                    MiniLm.embed(sessions.get(m), texts, batch);
                    rates[m][r] = texts.size() / ((System.nanoTime() - t0) / 1e9);
                }
            }
            System.out.printf(Locale.ROOT, "texts %d (%d tokens), batch %d, %d intra-op threads, %d warm-up passes and %d "
                    + "timed rounds%n%n", texts.size(), tokens, batch, threads, warmup, runs);
            System.out.println("| model | size (bytes) | cosine to float: mean | min | embeddings/s: median | min–max | "
                    + "speed / " + names.get(Math.min(1, names.size() - 1)) + " |");
            System.out.println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
            for (int m = 0; m < sessions.size(); m++) {
                double[] c = MiniLm.cosines(embeddings.getFirst(), embeddings.get(m));
                double[] r = rates[m].clone();
                Arrays.sort(r);
                double[] ratio = new double[runs];
                for (int i = 0; i < runs; i++) {
                    ratio[i] = rates[m][i] / rates[Math.min(1, sessions.size() - 1)][i];
                }
                Arrays.sort(ratio);
                System.out.printf(Locale.ROOT, "| %s | %,d | %.5f | %.5f | %.1f | %.1f–%.1f | %.2f |%n", names.get(m),
                        sizes.get(m), Arrays.stream(c).average().orElseThrow(), Arrays.stream(c).min().orElseThrow(),
                        r[r.length / 2], r[0], r[r.length - 1], ratio[runs / 2]);
            }
        } finally {
            for (InferenceSession s : sessions) {
                s.close();
            }
        }
    }
}
