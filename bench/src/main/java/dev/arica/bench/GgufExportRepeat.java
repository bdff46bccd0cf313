package dev.arica.bench;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.Progress;
import dev.arica.formats.gguf.GgmlType;
import dev.arica.quantize.GgufExporter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Exports the same checkpoint as GGUF several times in one JVM and prints each run's time: the first run pays for JIT
 * compilation of the kernels, the later ones show the steady state. Used by bench/export-gguf.sh.
 *
 * <pre>GgufExportRepeat IN OUT.gguf TYPE RUNS</pre>
 */
public final class GgufExportRepeat {
    private GgufExportRepeat() {}

    public static void main(String[] args) throws Exception {
        Path in = Path.of(args[0]);
        Path out = Path.of(args[1]);
        GgmlType type = GgmlType.valueOf(args[2].toUpperCase(Locale.ROOT));
        int runs = Integer.parseInt(args[3]);
        for (int i = 0; i < runs; i++) {
            Files.deleteIfExists(out);
            long t = System.nanoTime();
            try (Checkpoint c = Checkpoint.open(in)) {
                GgufExporter.export(c, out, GgufExporter.Options.of(type), Progress.NONE);
            }
            System.out.printf(Locale.ROOT, "run %d: %.3f s%n", i + 1, (System.nanoTime() - t) / 1e9);
        }
        Files.deleteIfExists(out);
    }
}
