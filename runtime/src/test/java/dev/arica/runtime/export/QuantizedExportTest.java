package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.Converter;
import dev.arica.formats.Progress;
import dev.arica.formats.arica.AricaCheckpoint;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.io.Json;
import dev.arica.formats.onnx.OnnxModel;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.formats.testing.Stories260K;
import dev.arica.quantize.AricaDequantizer;
import dev.arica.quantize.CheckpointQuantizer;
import dev.arica.quantize.TensorSelection;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * stories260K quantized into .arica files and exported with the stored codes: through MatMulNBits and through
 * portable DequantizeLinear + MatMul the logits are those of the same file dequantized to float32 (by the
 * quantizer's own dequantizer) and exported as floats, so no value was requantized or lost on the way; both
 * quantized graphs decode the same ids.
 */
class QuantizedExportTest {

    /** Schemes as `quantize` names them; "+emb" also quantizes the (tied) embedding, "+zstd" compresses. */
    private static final List<String> CASES = List.of("q8_0", "q4_0", "int8-g32-asym", "int4-g32-asym", "int4-g16",
            "q8_0+emb+zstd");

    @TempDir
    static Path tmp;

    private static final Map<String, Path> ARICA = new HashMap<>();

    @BeforeAll
    static void quantize() throws Exception {
        try (Checkpoint c = Checkpoint.open(Stories260K.checkpoint())) {
            for (String id : CASES) {
                Path out = tmp.resolve(id + ".arica");
                CheckpointQuantizer.quantize(c, out, options(id), Progress.NONE);
                ARICA.put(id, out);
            }
        }
    }

    private static CheckpointQuantizer.Options options(String id) {
        String[] parts = id.split("\\+");
        String[] s = parts[0].split("-");
        Scheme scheme = Scheme.parse(s[0]).orElseThrow();
        int group = s.length > 1 ? Integer.parseInt(s[1].substring(1)) : scheme.defaultGroup();
        boolean asym = s.length > 2;
        List<String> extra = List.of(parts).subList(1, parts.length);
        CheckpointQuantizer.Options o = CheckpointQuantizer.Options.of(new QuantLayout(scheme, group, asym));
        return new CheckpointQuantizer.Options(o.layout(), new TensorSelection(List.of(), extra.contains("emb"), false),
                o.floatType(), extra.contains("zstd") ? 3 : 0, o.user(), o.aricaVersion(), o.commandLine(), 1, null);
    }

    /** MatMulNBits at accuracy level 0 (float32 compute), or portable: both compute with the stored values exactly. */
    private static Path export(String id, boolean portable) throws IOException {
        Path dir = tmp.resolve(id + (portable ? "-portable" : "-nbits"));
        if (!Files.exists(dir)) {
            try (AricaCheckpoint a = AricaCheckpoint.open(ARICA.get(id))) {
                OnnxExporter.export(a, dir, OnnxExporter.Options.defaults().withPortable(portable)
                        .withAccuracyLevel(0), Progress.NONE);
            }
        }
        return dir;
    }

    /** The .arica file dequantized to an f32 HF directory, exported as floats: what the stored values compute. */
    private static Path dequantizedExport(String id) throws IOException {
        Path dir = tmp.resolve(id + "-dequantized-onnx");
        if (!Files.exists(dir)) {
            Path hf = tmp.resolve(id + "-dequantized");
            try (AricaFile f = AricaFile.open(ARICA.get(id))) {
                AricaDequantizer.convert(f, hf, Converter.Options.defaults(), Progress.NONE);
            }
            try (Checkpoint c = Checkpoint.open(hf)) {
                OnnxExporter.export(c, dir, OnnxExporter.Options.defaults(), Progress.NONE);
            }
        }
        return dir;
    }

    @ParameterizedTest
    @ValueSource(strings = {"q8_0", "q4_0", "int8-g32-asym", "int4-g32-asym", "int4-g16", "q8_0+emb+zstd"})
    void bothQuantizedGraphsComputeWhatTheStoredValuesCompute(String id) throws Exception {
        long[] ids = Arrays.copyOf(Stories260K.greedy().getFirst().idsLong(), 256);
        float[][] expected;
        try (OrtDecoder d = new OrtDecoder(dequantizedExport(id))) {
            expected = d.prompt(ids).logits()[0];
        }
        for (boolean portable : new boolean[] {false, true}) {
            try (OrtDecoder d = new OrtDecoder(export(id, portable))) {
                double worst = Stories260KExportTest.worst(expected, d.prompt(ids).logits()[0]);
                // Float32 rounding only (other summation orders): a requantized or misplaced code moves logits by 1e-2 and more.
                assertTrue(worst <= 1e-4, id + (portable ? " portable" : " MatMulNBits") + ": largest difference " + worst);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"q8_0", "q4_0", "int4-g32-asym"})
    void matMulNBitsAndPortableDecodeTheSameIdsAtTheHighestOptimizationLevel(String id) throws Exception {
        try (OrtDecoder nbits = new OrtDecoder(export(id, false), OptLevel.ALL_OPT, 1);
                OrtDecoder portable = new OrtDecoder(export(id, true), OptLevel.ALL_OPT, 1)) {
            for (Stories260K.Greedy g : Stories260K.greedy()) {
                List<Long> a = nbits.greedy(g.promptIdsLong(), Stories260KExportTest.MAX_IDS, Stories260KExportTest.STOP);
                List<Long> b = portable.greedy(g.promptIdsLong(), Stories260KExportTest.MAX_IDS, Stories260KExportTest.STOP);
                assertEquals(a, b, id + ", prompt '" + g.prompt() + "'");
            }
        }
    }

    @Test
    void projectionsAreMatMulNBitsOnTheStoredBytesWithNoFloatCopy() throws Exception {
        Path dir = export("q4_0", false);
        try (OnnxModel m = OnnxModel.open(dir.resolve("model.onnx"));
                AricaFile f = AricaFile.open(ARICA.get("q4_0"))) {
            assertEquals(List.of(new OnnxModel.Opset("", 17), new OnnxModel.Opset("com.microsoft", 1)), m.opsetImports());
            Map<String, Integer> ops = m.opCounts();
            assertEquals(35, ops.get("com.microsoft:MatMulNBits"), "7 projections x 5 layers");
            assertEquals(1, ops.get("Gemm"), "the tied output head stays float, as stored");
            long quantizedBytes = 0;
            for (var e : f.entries()) {
                if (e.quantized()) {
                    quantizedBytes += e.rawLength();
                    assertFalse(m.initializer(e.name()).isPresent(), e.name() + " has no float initializer");
                    assertTrue(m.initializer(e.name() + ".MatMulNBits.B").isPresent(), e.name());
                }
            }
            // B (codes) and fp16 scales hold exactly the stored bytes of q4_0 blocks.
            long planes = m.initializers().stream().filter(i -> i.name().contains(".MatMulNBits.")).mapToLong(OnnxModel.Initializer::bytes).sum();
            assertEquals(quantizedBytes, planes);
            assertEquals("q4_0 x 35 (MatMulNBits, accuracy_level 0)", m.metadata().get(OnnxExporter.QUANTIZATION_METADATA));
        }
        JsonNode g = Json.readObjectFile(dir.resolve(OnnxExporter.GENAI_FILE));
        assertEquals("MatMulNBits", g.get("quantization").get("operator").asText());
        assertEquals("q4_0", g.get("quantization").get("weights").get("model.layers.0.mlp.down_proj.weight").asText());
    }

    @Test
    void thePortableGraphUsesOnlyStandardOperatorsAtOpset21WithFourBitInitializers() throws Exception {
        Path dir = export("int4-g32-asym", true);
        try (OnnxModel m = OnnxModel.open(dir.resolve("model.onnx"))) {
            assertEquals(List.of(new OnnxModel.Opset("", 21)), m.opsetImports());
            Map<String, Integer> ops = m.opCounts();
            assertEquals(35, ops.get("DequantizeLinear"));
            assertFalse(ops.keySet().stream().anyMatch(k -> k.contains(":")), "no contrib operator: " + ops.keySet());
            // [K, N] uint4 codes: 2 per byte.
            OnnxModel.Initializer codes = m.initializer("model.layers.0.mlp.down_proj.weight.quantized").orElseThrow();
            assertEquals(64L * 192 / 2, codes.bytes());
        }
        assertEquals(21, Json.readObjectFile(dir.resolve(OnnxExporter.GENAI_FILE)).get("opset").asInt());
    }

    @Test
    void aQuantizedEmbeddingIsDequantizedForGatherAndTheTiedHeadRunsQuantized() throws Exception {
        try (OnnxModel m = OnnxModel.open(export("q8_0+emb+zstd", false).resolve("model.onnx"))) {
            assertEquals(36, m.opCounts().get("com.microsoft:MatMulNBits"), "35 projections and the tied head");
            assertTrue(m.initializer("model.embed_tokens.weight").isPresent(), "Gather reads a float table");
            assertFalse(m.opCounts().containsKey("Gemm"));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"q8_0", "q4_0", "int8-g32-asym", "int4-g16"})
    void theWeightsTakeExactlyTheBytesTheyTakeInTheAricaFile(String id) throws Exception {
        try (OnnxModel m = OnnxModel.open(export(id, false).resolve("model.onnx"));
                AricaFile f = AricaFile.open(ARICA.get(id))) {
            long arica = f.entries().stream().mapToLong(e -> e.rawLength()).sum();
            long onnx = m.initializers().stream()
                    .filter(i -> f.entry(i.name()).isPresent() || i.name().contains(".MatMulNBits."))
                    .mapToLong(OnnxModel.Initializer::bytes).sum();
            // Codes, fp16 scales, packed zero points and float tensors as stored: no float copy, no widening.
            assertEquals(arica, onnx, id);
        }
    }

    @Test
    void aFloatTensorOfAnAricaFileIsReadAsStoredAndQuantizedOnesAreRefused() throws Exception {
        try (AricaCheckpoint a = AricaCheckpoint.open(ARICA.get("q8_0"))) {
            assertEquals("arica", a.format());
            assertTrue(a.quantized("model.layers.0.mlp.up_proj.weight").isPresent());
            assertTrue(a.quantized("model.norm.weight").isEmpty());
            assertEquals(64 * 4, a.tensor("model.norm.weight").parts().getFirst().byteSize());
            var e = org.junit.jupiter.api.Assertions.assertThrows(dev.arica.formats.FormatException.class,
                    () -> a.tensor("model.layers.0.mlp.up_proj.weight"));
            assertTrue(e.getMessage().contains("model.layers.0.mlp.up_proj.weight") && e.getMessage().contains("q8_0"),
                    e.getMessage());
            assertArrayEquals(new long[] {172, 64}, a.tensors().stream()
                    .filter(t -> t.name().equals("model.layers.0.mlp.up_proj.weight")).findFirst().orElseThrow().shape());
        }
    }
}
