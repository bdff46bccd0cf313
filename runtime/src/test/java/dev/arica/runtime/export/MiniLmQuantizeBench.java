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
 * float one), and embeddings per second over {@code runs} timed passes over all texts after {@code warmup} untimed
 * ones (median, min and max of the passes). Sessions on the CPU with {@code threads} intra-op threads, weights
 * prepacked. A measurement run by bench/onnx-quantize.sh, not a test.
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
        System.out.printf(Locale.ROOT, "texts %d (%d tokens), batch %d, %d intra-op threads, %d warm-up and %d timed "
                + "passes%n%n", texts.size(), tokens, batch, threads, warmup, runs);
        System.out.println("| model | size (bytes) | cosine to float: mean | min | embeddings/s: median | min–max |");
        System.out.println("| --- | ---: | ---: | ---: | ---: | ---: |");
        float[][] reference = null;
        for (int a = 4; a < args.length; a++) {
            String name = args[a].substring(0, args[a].indexOf('='));
            Path model = Path.of(args[a].substring(args[a].indexOf('=') + 1));
            long size = Files.size(model);
            Path data = model.resolveSibling(model.getFileName() + ".data");
            if (Files.exists(data)) {
                size += Files.size(data);
            }
            try (InferenceSession s = InferenceSession.open(model, new InferenceSession.Options(Device.CPU, threads, 0,
                    true))) {
                float[][] e = MiniLm.embed(s, texts, batch);
                for (int i = 0; i < warmup; i++) {
                    MiniLm.embed(s, texts, batch);
                }
                List<Double> rates = new ArrayList<>();
                for (int i = 0; i < runs; i++) {
                    long t0 = System.nanoTime();
                    MiniLm.embed(s, texts, batch);
                    rates.add(texts.size() / ((System.nanoTime() - t0) / 1e9));
                }
                if (reference == null) {
                    reference = e;
                }
                double[] c = MiniLm.cosines(reference, e);
                double[] r = rates.stream().mapToDouble(Double::doubleValue).sorted().toArray();
                System.out.printf(Locale.ROOT, "| %s | %,d | %.5f | %.5f | %.1f | %.1f–%.1f |%n", name, size,
                        Arrays.stream(c).average().orElseThrow(), Arrays.stream(c).min().orElseThrow(),
                        r[r.length / 2], r[0], r[r.length - 1]);
            }
        }
    }
}
