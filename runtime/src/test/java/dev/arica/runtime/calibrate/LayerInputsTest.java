package dev.arica.runtime.calibrate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.formats.testing.Stories260K;
import dev.arica.formats.testing.TestModels;
import dev.arica.quantize.CheckpointQuantizer;
import dev.arica.quantize.InputStatistics;
import dev.arica.quantize.Method;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The linear inputs of stories260K collected through its exported graph: every projection's input is measured (q, k
 * and v share one), the first layer's equals RMSNorm of the embeddings computed here, only one layer's statistics
 * are kept, and the spilled activations are deleted on close.
 */
class LayerInputsTest {
    private static final String Q0 = "model.layers.0.self_attn.q_proj.weight";

    @TempDir
    Path tmp;

    @Test
    void theFirstLayersInputIsTheNormedEmbeddingAndOneLayerIsKept() throws IOException {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        Path dir = tmp.resolve("onnx");
        int[] ids = Arrays.copyOf(Stories260K.greedy().getFirst().ids(), 40);
        try (Checkpoint c = Checkpoint.open(Stories260K.checkpoint())) {
            OnnxExporter.export(c, dir, OnnxExporter.Options.defaults().withLinearInputs(true), Progress.NONE);
            float[] want = normedEmbeddingSquares(c, ids, 1e-5f);
            LayerInputs inputs;
            try (OnnxDecoder d = OnnxDecoder.open(dir, InferenceSession.Options.of(Device.CPU))) {
                // Windows of 16 from an empty cache: layer 0's input does not depend on positions.
                inputs = LayerInputs.collect(d, ids, 16, Method.GPTQ, tmp, "40 tokens");
            }
            try (inputs) {
                assertEquals(36, inputs.weights().size(), "7 projections in 5 layers and the (tied) head: " + inputs.weights());
                InputStatistics q0 = inputs.inputs(Q0).orElseThrow();
                assertSame(q0, inputs.inputs("model.layers.0.self_attn.k_proj.weight").orElseThrow());
                assertSame(q0, inputs.inputs("model.layers.0.self_attn.v_proj.weight").orElseThrow());
                assertEquals(40, q0.samples());
                assertTrue(q0.hasHessian());
                for (int j = 0; j < want.length; j++) {
                    assertEquals(want[j], q0.importance()[j], 1e-4 * want[j] + 1e-7, "channel " + j);
                }
                InputStatistics down = inputs.inputs("model.layers.0.mlp.down_proj.weight").orElseThrow();
                assertEquals(172, down.columns());
                inputs.inputs("model.layers.1.self_attn.q_proj.weight").orElseThrow();
                assertNotSame(q0, inputs.inputs(Q0).orElseThrow(), "layer 0's statistics were dropped, then made again");
                // The head is the tied embedding: its input, the final norm's output, is measured under the table's name.
                assertEquals(64, inputs.inputs("model.embed_tokens.weight").orElseThrow().columns());
                assertTrue(inputs.inputs("model.norm.weight").isEmpty());
                assertEquals("40 tokens", inputs.describe());
            }
            try (var left = Files.list(tmp)) {
                assertEquals(0, left.filter(p -> p.getFileName().toString().startsWith("arica-calibration-")).count(),
                        "spilled activations deleted");
            }
        }
    }

    /** mean over the tokens of (RMSNorm(E[id]) * g)^2 per channel, in double. */
    private static float[] normedEmbeddingSquares(Checkpoint c, int[] ids, float eps) throws IOException {
        MemorySegment e = c.tensor("model.embed_tokens.weight").parts().getFirst();
        MemorySegment g = c.tensor("model.layers.0.input_layernorm.weight").parts().getFirst();
        int dim = 64;
        double[] sum = new double[dim];
        for (int id : ids) {
            double ms = 0;
            for (int j = 0; j < dim; j++) {
                double x = e.getAtIndex(FloatCast.F32_LE, (long) id * dim + j);
                ms += x * x / dim;
            }
            double inv = 1 / Math.sqrt(ms + eps);
            for (int j = 0; j < dim; j++) {
                double y = e.getAtIndex(FloatCast.F32_LE, (long) id * dim + j) * inv * g.getAtIndex(FloatCast.F32_LE, j);
                sum[j] += y * y;
            }
        }
        float[] out = new float[dim];
        for (int j = 0; j < dim; j++) {
            out[j] = (float) (sum[j] / ids.length);
        }
        return out;
    }

    /**
     * Other decoder families through the same graph outputs: GPT-2 (Conv1D weights stored [in, out], a fused qkv),
     * Falcon (fused qkv) and Gemma-2 are quantized by GPTQ with every layer weight's input measured.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-gpt2", "tiny-falcon", "tiny-gemma2"})
    void otherFamiliesAreCalibrated(String model) throws IOException {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        Path dir = tmp.resolve("onnx");
        try (Checkpoint c = Checkpoint.open(TestModels.dir(model))) {
            OnnxExporter.export(c, dir, OnnxExporter.Options.defaults().withLinearInputs(true), Progress.NONE);
            int[] ids = new int[48];
            SplittableRandom rnd = new SplittableRandom(11);
            LayerInputs inputs;
            try (OnnxDecoder d = OnnxDecoder.open(dir, InferenceSession.Options.of(Device.CPU))) {
                for (int i = 0; i < ids.length; i++) {
                    ids[i] = rnd.nextInt(d.vocabSize());
                }
                inputs = LayerInputs.collect(d, ids, 24, Method.GPTQ, tmp, "48 random ids");
            }
            try (inputs) {
                CheckpointQuantizer.Options options = CheckpointQuantizer.Options.of(new QuantLayout(Scheme.INT4, 16, true))
                        .withMethod(Method.GPTQ, inputs);
                CheckpointQuantizer.Report r = CheckpointQuantizer.quantize(c, tmp.resolve(model + ".arica"), options,
                        Progress.NONE);
                assertTrue(r.quantizedCount() > 0);
                for (var t : r.tensors()) {
                    if (t.quantized()) {
                        assertTrue(t.reason().endsWith("; gptq"), t.name() + ": " + t.reason());
                        assertTrue(t.error().snrDb() > 10, t.name() + ": " + t.error().snrDb() + " dB");
                    }
                }
            }
        }
    }
}
