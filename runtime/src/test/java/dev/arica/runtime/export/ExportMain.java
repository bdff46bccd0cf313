package dev.arica.runtime.export;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import java.nio.file.Path;

/** Runs one export in a JVM of its own, so that a test can give it a heap smaller than the model. */
final class ExportMain {
    private ExportMain() {}

    /** Arguments: checkpoint, output directory, weight type (F32 or F16), flavour (STANDARD or ORT_OPTIMIZED). */
    public static void main(String[] args) throws Exception {
        try (Checkpoint c = Checkpoint.open(Path.of(args[0]))) {
            OnnxExporter.export(c, Path.of(args[1]),
                    OnnxExporter.Options.defaults().withWeightType(DType.valueOf(args[2]))
                            .withFlavour(OnnxExporter.Flavour.valueOf(args[3])), Progress.NONE);
        }
    }
}
