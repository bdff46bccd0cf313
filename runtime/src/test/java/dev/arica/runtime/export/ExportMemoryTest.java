package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.onnx.OnnxModel;
import dev.arica.runtime.export.OnnxExporter.Flavour;
import dev.arica.testdata.SyntheticLlama;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Export streams: a model several times larger than the exporting JVM's heap goes through. */
class ExportMemoryTest {

    static final int HEAP_MB = 48;

    @TempDir
    Path tmp;

    @Test
    void aModelLargerThanTheHeapExportsInF32AndF16InBothFlavours() throws Exception {
        SyntheticLlama.Spec spec = new SyntheticLlama.Spec(1024, 2816, 2, 8, 4, 8000, 2048, false, DType.F32, 0.02, 9);
        Path hf = tmp.resolve("hf");
        SyntheticLlama.write(hf, spec, Long.MAX_VALUE, Progress.NONE);
        long bytes = SyntheticLlama.tensors(spec).stream().mapToLong(TensorInfo::byteSize).sum();
        assertTrue(bytes > 3L * HEAP_MB << 20, "the model (" + bytes + " bytes) should dwarf the heap");
        // f16 with the ORT-optimized flavour, whose rotary tables are computed as they are written.
        for (DType t : List.of(DType.F32, DType.F16)) {
            Flavour flavour = t == DType.F32 ? Flavour.STANDARD : Flavour.ORT_OPTIMIZED;
            Path out = tmp.resolve("onnx-" + t);
            runExport(hf, out, t, flavour);
            try (Checkpoint c = Checkpoint.open(hf); OnnxModel m = OnnxModel.open(out.resolve("model.onnx"))) {
                assertEquals(bytes / 4 * t.byteSize(), m.dataBytes() - constantBytes(m));
                for (String name : List.of("lm_head.weight", "model.layers.1.mlp.down_proj.weight")) {
                    Tensor src = c.tensor(name);
                    long n = src.info().elements();
                    MemorySegment expect = MemorySegment.ofArray(new byte[(int) (n * t.byteSize())]);
                    FloatCast.cast(DType.F32, src.parts().getFirst(), t, expect, n);
                    assertArrayEquals(expect.toArray(ValueLayout.JAVA_BYTE), m.data(name).toArray(ValueLayout.JAVA_BYTE), name);
                }
            }
        }
    }

    /** Bytes of the graph's own small constants (shapes, axes), which are not weights. */
    private static long constantBytes(OnnxModel m) {
        return m.initializers().stream().filter(i -> i.name().startsWith("const/") || i.name().startsWith("rope/"))
                .mapToLong(OnnxModel.Initializer::bytes).sum();
    }

    private static void runExport(Path in, Path out, DType t, Flavour flavour) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx" + HEAP_MB + "m", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), ExportMain.class.getName(),
                in.toString(), out.toString(), t.name(), flavour.name()));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(5, TimeUnit.MINUTES), "export did not finish");
        assertEquals(0, p.exitValue(), () -> "export in a " + HEAP_MB + " MB heap failed:\n" + log);
    }
}
