package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.testing.GptqFixtures;
import dev.arica.formats.testing.GptqFixtures.Layer;
import dev.arica.formats.testing.GptqFixtures.Raw;
import dev.arica.formats.testing.ReferenceModel;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPTQ checkpoints through the command line: the bundled AutoGPTQ Falcon and its .arica file (GPTQ's codes as stored,
 * run by MatMulNBits) reproduce the reference of its dequantized weights; a desc_act variant runs through its column
 * order (a Gather of the activations) in both quantized graphs; inspect shows the layers as GPTQ, convert dequantizes
 * them, bad files are refused with one line naming the file and the tensor.
 */
class GptqCommandsTest {

    @TempDir
    static Path tmp;

    static final ReferenceModel REF = new ReferenceModel(GptqFixtures.MODEL);
    static ReferenceRuns runs;

    @BeforeAll
    static void setUp() {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        runs = new ReferenceRuns(tmp, tmp.resolve("cache"));
    }

    /** MODEL's forward logits over the reference ids against {@code want}: the largest difference. */
    private static double forwardError(Path model, float[][] want, String... extra) throws IOException {
        Path npy = tmp.resolve(model.getFileName() + "-" + String.join("", extra).replace("-", "") + ".npy");
        List<String> args = new java.util.ArrayList<>(List.of("--ids", ReferenceRuns.list(REF.logitIds()), "-o", npy.toString()));
        args.addAll(List.of(extra));
        runs.run("forward", model, args.toArray(String[]::new));
        return ReferenceRuns.largestDifference(want, ForwardCommandTest.Npy.read(npy));
    }

    private static Path quantize(Path gptq, String name) {
        Path arica = tmp.resolve(name + ".arica");
        ok("quantize", gptq.toString(), "-o", arica.toString(), "--no-digest-cache");
        return arica;
    }

    private static Path variant(String name, UnaryOperator<Layer> change) throws IOException {
        return GptqFixtures.write(tmp.resolve(name), GptqFixtures.bundled().map(change).tensors(4, false),
                GptqFixtures.quantizeConfig(4, true, true, "gptq"), true);
    }

    @Test
    void theGptqFalconAndItsAricaFileReproduceTheReference() throws IOException {
        float[][] want = REF.logits(384);
        double dir = forwardError(REF.dir(), want);
        assertTrue(dir <= 1e-4, "GPTQ directory (dequantized weights): forward differs by " + dir);
        assertArrayEquals(REF.greedyIds(), runs.greedy(REF, REF.dir()));

        Path arica = quantize(REF.dir(), "falcon-gptq");
        // MatMulNBits in float32 (accuracy level 0) on the stored codes; level 4's int8 activations drift on these
        // random weights, whose smallest greedy margin is 0.026.
        for (String graph : List.of("standard", "ort-optimized")) {
            double stored = forwardError(arica, want, "--accuracy-level", "0", "--graph", graph);
            assertTrue(stored <= 1e-4, "the .arica file (" + graph + "): forward differs by " + stored);
            assertArrayEquals(REF.greedyIds(), runs.greedy(REF, arica, "--accuracy-level", "0", "--graph",
                    graph), graph);
        }
    }

    @Test
    void descActLayersRunThroughTheirColumnOrder() throws IOException {
        // The same weights with the groups relabelled out of order: the reference still holds, through the Gather.
        Path relabelled = quantize(variant("relabelled", Layer::relabelled), "relabelled");
        JsonNode inspect = ok("inspect", relabelled.toString(), "--json").json();
        assertEquals("3.0", inspect.get("format_version").asText());
        JsonNode qkv = inspect.get("tensors").get(3);
        assertEquals("transformer.h.0.self_attention.query_key_value.weight", qkv.get("name").asText());
        assertTrue(qkv.get("permuted").asBoolean(), qkv::toString);
        assertTrue(ok("inspect", relabelled.toString()).out().contains("input features permuted (GPTQ desc_act)"));
        ok("verify", relabelled.toString());
        double error = forwardError(relabelled, REF.logits(384), "--accuracy-level", "0");
        assertTrue(error <= 1e-4, "relabelled groups: forward differs by " + error);
        assertArrayEquals(REF.greedyIds(), runs.greedy(REF, relabelled, "--accuracy-level", "0"));

        // Other weights, each group's rows interleaved: the .arica file against its own GPTQ directory, float.
        Path interleavedDir = variant("interleaved", Layer::interleaved);
        Path interleaved = quantize(interleavedDir, "interleaved");
        Path floatLogits = tmp.resolve("interleaved-float.npy");
        runs.run("forward", interleavedDir, "--ids", ReferenceRuns.list(REF.logitIds()), "-o", floatLogits.toString());
        float[][] want = ForwardCommandTest.Npy.read(floatLogits).values();
        double nbits = forwardError(interleaved, want, "--accuracy-level", "0");
        assertTrue(nbits <= 1e-4, "interleaved groups, MatMulNBits: forward differs by " + nbits);
        Path portable = tmp.resolve("interleaved-portable");
        ok("export-onnx", interleaved.toString(), "-o", portable.toString(), "--portable");
        JsonNode ops = ok("inspect", portable.resolve("model.onnx").toString(), "--json").json().get("ops");
        assertEquals(12, ops.get("DequantizeLinear").asInt(), ops::toString);
        double dq = forwardError(portable, want);
        assertTrue(dq <= 1e-4, "interleaved groups, DequantizeLinear: forward differs by " + dq);
        Path back = tmp.resolve("interleaved-back.safetensors");
        ok("convert", interleaved.toString(), "-o", back.toString());
        Layer first = GptqFixtures.bundled().map(Layer::interleaved).layers().values().iterator().next();
        CliTesting.StRead st = CliTesting.StRead.of(back);
        ByteBuffer w = st.bytes(first.module() + ".weight");
        float[][] weight = first.weight();
        for (int n = 0; n < first.out(); n++) {
            for (int k = 0; k < first.in(); k++) {
                assertEquals(weight[n][k], w.getFloat(4 * (n * first.in() + k)), "convert restores the logical order");
            }
        }
    }

    @Test
    void inspectShowsGptqLayersAndConvertDequantizesThem() throws IOException {
        JsonNode j = ok("inspect", REF.dir().toString(), "--json").json();
        assertEquals("gptq", j.get("format").asText());
        assertEquals("{\"bits\":4,\"group_size\":32,\"sym\":true,\"desc_act\":false,\"checkpoint_format\":\"gptq\","
                + "\"file\":\"quantize_config.json\"}", j.get("gptq").toString());
        JsonNode dense = j.get("tensors").get(4);
        assertEquals("transformer.h.0.self_attention.dense.weight", dense.get("name").asText());
        assertEquals("F32", dense.get("dtype").asText());
        assertEquals("[64,64]", dense.get("shape").toString());
        assertEquals("gptq", dense.get("scheme").asText());
        assertFalse(dense.get("desc_act").asBoolean());
        assertEquals(8 * 64 * 4 + 2 * 8 * 4 + 2 * 64 * 2 + 64 * 4, dense.get("bytes").asLong(), "the stored bytes");
        assertEquals("[\"transformer.h.0.self_attention.dense.qweight\",\"transformer.h.0.self_attention.dense.qzeros\","
                + "\"transformer.h.0.self_attention.dense.scales\",\"transformer.h.0.self_attention.dense.g_idx\"]",
                dense.get("stored").toString());
        assertEquals("falcon", j.get("family").get("id").asText(), j.get("family")::toString);
        String human = ok("inspect", REF.dir().toString()).out();
        assertTrue(human.contains("gptq        4 bits, groups of 32, symmetric, desc_act false, format gptq"), human);
        assertTrue(human.contains("gptq 4-bit g32 sym, g_idx in order, zeros minus one (qweight, qzeros, scales, g_idx)"),
                human);

        Path out = tmp.resolve("dequantized");
        ok("convert", REF.dir().toString(), "-o", out.toString());
        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors"), CliTesting.names(out));
        assertFalse(Files.readString(out.resolve("config.json")).contains("quantization_config"));
        CliTesting.StRead st = CliTesting.StRead.of(out.resolve("model.safetensors"));
        assertEquals(22, st.tensorNames().size());
        for (Layer l : GptqFixtures.bundled().layers().values()) {
            ByteBuffer w = st.bytes(l.module() + ".weight");
            float[][] want = l.weight();
            for (int n = 0; n < l.out(); n++) {
                for (int k = 0; k < l.in(); k++) {
                    if (Float.floatToRawIntBits(want[n][k]) != Float.floatToRawIntBits(w.getFloat(4 * (n * l.in() + k)))) {
                        throw new AssertionError(l.module() + "[" + n + ", " + k + "]");
                    }
                }
            }
        }
        assertEquals(dev.arica.formats.DType.F16, st.dtype("lm_head.weight"), "float tensors as stored");
        JsonNode back = ok("inspect", out.toString(), "--json").json();
        assertEquals("hf-directory", back.get("format").asText(), "a plain float checkpoint");
    }

    private static Path broken(String name, UnaryOperator<List<Raw>> edit, int bits) throws IOException {
        return GptqFixtures.write(tmp.resolve(name), edit.apply(GptqFixtures.bundled().tensors(4, false)),
                GptqFixtures.quantizeConfig(bits, true, false, "gptq"), true);
    }

    @Test
    void badGptqFilesAreRefusedWithOneLine() throws IOException {
        String m = GptqFixtures.bundled().firstModule();
        Path shape = broken("bad-shape", t -> GptqFixtures.replace(t, m + ".qweight", new Raw(m + ".qweight", "I32",
                new long[] {8, 95}, new byte[8 * 95 * 4])), 4);
        Path range = broken("bad-range", t -> {
            byte[] g = new byte[64 * 4];
            ByteBuffer.wrap(g).order(ByteOrder.LITTLE_ENDIAN).putInt(63 * 4, -1);
            return GptqFixtures.replace(t, m + ".g_idx", new Raw(m + ".g_idx", "I32", new long[] {64}, g));
        }, 4);
        Path bits = broken("bad-bits", t -> t, 3);
        for (String command : List.of("inspect", "convert", "quantize")) {
            for (Path dir : List.of(shape, range, bits)) {
                Path out = tmp.resolve(command + "-" + dir.getFileName() + (command.equals("quantize") ? ".arica" : ""));
                CliTesting.Run r = command.equals("inspect") ? run(command, dir.toString())
                        : run(command, dir.toString(), "-o", out.toString());
                String file = dir.resolve(dir == bits ? "quantize_config.json" : "model.safetensors").toString();
                String what = dir == shape ? "tensor '" + m + ".qweight'" : dir == range ? "tensor '" + m + ".g_idx'"
                        : "bits is 3";
                assertBadInput(r, file, what);
                assertNothingWritten(out);
            }
        }
    }

    @Test
    void quantizeKeepsGptqOnlyWithoutAScheme() throws IOException {
        Path falcon = new ReferenceModel("tiny-falcon").dir();
        assertBadInput(run("quantize", falcon.toString(), "-o", tmp.resolve("no-scheme.arica").toString()),
                "--scheme is required", "is not a GPTQ checkpoint");
        assertBadInput(run("quantize", REF.dir().toString(), "-o", tmp.resolve("g.arica").toString(), "--group-size",
                "64"), "apply to --scheme");
        Path report = tmp.resolve("report.json");
        ok("quantize", REF.dir().toString(), "-o", tmp.resolve("reported.arica").toString(), "--no-digest-cache",
                "--report", report.toString());
        JsonNode r = CliTesting.JSON.readTree(report.toFile());
        assertEquals("gptq", r.get("scheme").asText());
        assertEquals(12, r.get("totals").get("quantized").asInt());
        assertTrue(r.get("totals").get("min_snr_db").isNull(), "every layer exact: " + r.get("totals"));
    }
}
