package dev.arica.bench;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.Progress;
import dev.arica.formats.io.ChunkPipeline;
import dev.arica.formats.io.FileDigest;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.quantize.CheckpointQuantizer;
import dev.arica.quantize.TensorSelection;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Quantizes the same checkpoint several times in one JVM and prints each run's time: the first run pays
 * for JIT compilation of the kernels, the later ones show the steady state a long-lived process (or a
 * model large enough to amortise start-up) gets. Used by bench/quantize.sh.
 *
 * <pre>QuantizeRepeat IN OUT.arica SCHEME RUNS [all]</pre>
 */
public final class QuantizeRepeat {
    private QuantizeRepeat() {}

    public static void main(String[] args) throws Exception {
        Path in = Path.of(args[0]);
        Path out = Path.of(args[1]);
        Scheme scheme = Scheme.parse(args[2]).orElseThrow();
        int runs = Integer.parseInt(args[3]);
        boolean all = args.length > 4 && args[4].equals("all");
        CheckpointQuantizer.Options options = new CheckpointQuantizer.Options(QuantLayout.of(scheme),
                new TensorSelection(List.of(), all, all), null, 0, Map.of(), "bench", "", ChunkPipeline.defaultThreads(),
                FileDigest.defaultCacheDirectory());
        for (int i = 0; i < runs; i++) {
            Files.deleteIfExists(out);
            long t = System.nanoTime();
            try (Checkpoint c = Checkpoint.open(in)) {
                CheckpointQuantizer.quantize(c, out, options, Progress.NONE);
            }
            System.out.printf(Locale.ROOT, "run %d: %.3f s%n", i + 1, (System.nanoTime() - t) / 1e9);
        }
        Files.deleteIfExists(out);
    }
}
