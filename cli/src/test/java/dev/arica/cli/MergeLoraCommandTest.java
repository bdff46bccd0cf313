package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.io.Json;
import dev.arica.formats.testing.ReferenceModel;
import dev.arica.runtime.ort.OrtRuntime;
import dev.arica.testdata.SyntheticAdapter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code arica merge-lora} with the Gemma-2 reference adapter, against the merged model's reference outputs. */
class MergeLoraCommandTest {

    @TempDir
    static Path tmp;

    static ReferenceRuns runs;
    static Path merged;
    static final ReferenceModel BASE = new ReferenceModel("tiny-gemma2");
    static final ReferenceModel ADAPTER = new ReferenceModel("tiny-gemma2-lora");

    @BeforeAll
    static void merge() {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        runs = new ReferenceRuns(tmp, tmp.resolve("cache"));
        merged = tmp.resolve("merged");
        CliTesting.Run r = ok("merge-lora", BASE.dir().toString(), ADAPTER.dir().toString(), "-o", merged.toString());
        assertTrue(r.out().contains("28 merged"), r.out());
    }

    @ParameterizedTest
    @ValueSource(strings = {"standard", "ort-optimized"})
    void theMergedModelReproducesTheAdaptersReference(String graph) throws IOException {
        double worst = runs.forwardError(ADAPTER, merged, graph);
        // Measured: 2.4e-6; the base model's logits differ from the adapter's reference by up to 3.4.
        assertTrue(worst <= 1e-4, "merged logits differ from the reference by " + worst);
        assertTrue(runs.forwardError(ADAPTER, BASE.dir(), graph) > 0.1, "the adapter changes the outputs");
        assertArrayEquals(ADAPTER.greedyIds(), runs.greedy(ADAPTER, merged, "--graph", graph));
    }

    @Test
    void untouchedTensorsAreCopiedAndTheConfigAndSideFilesCarried() throws IOException {
        CliTesting.StRead in = CliTesting.StRead.of(BASE.dir().resolve("model.safetensors"));
        CliTesting.StRead out = CliTesting.StRead.of(merged.resolve("model.safetensors"));
        assertArrayEquals(in.byteArray("model.layers.1.input_layernorm.weight"), out.byteArray("model.layers.1.input_layernorm.weight"));
        assertArrayEquals(in.byteArray("model.embed_tokens.weight"), out.byteArray("model.embed_tokens.weight"));
        assertFalse(java.util.Arrays.equals(in.byteArray("model.layers.1.self_attn.q_proj.weight"),
                out.byteArray("model.layers.1.self_attn.q_proj.weight")), "an adapted weight changed");
        assertEquals(CliTesting.JSON.readTree(BASE.dir().resolve("config.json").toFile()),
                CliTesting.JSON.readTree(merged.resolve("config.json").toFile()));
        assertTrue(Files.isRegularFile(merged.resolve("generation_config.json")));
    }

    @Test
    void halfTheScaleIsHalfTheAdapter() throws IOException {
        Path half = tmp.resolve("half");
        ok("merge-lora", BASE.dir().toString(), ADAPTER.dir().toString(), "-o", half.toString(), "--scale", "0.5");
        String up = "model.layers.0.mlp.up_proj.weight";
        java.nio.FloatBuffer w0 = CliTesting.StRead.of(BASE.dir().resolve("model.safetensors")).bytes(up).asFloatBuffer();
        java.nio.FloatBuffer w1 = CliTesting.StRead.of(merged.resolve("model.safetensors")).bytes(up).asFloatBuffer();
        java.nio.FloatBuffer wh = CliTesting.StRead.of(half.resolve("model.safetensors")).bytes(up).asFloatBuffer();
        double worst = 0;
        for (int i = 0; i < w0.capacity(); i++) {
            worst = Math.max(worst, Math.abs((wh.get(i) - w0.get(i)) - 0.5 * (w1.get(i) - w0.get(i))));
        }
        assertTrue(worst < 1e-6, "the half-scaled delta is half the delta: " + worst);
    }

    /** An adapter directory like the reference one with its config changed by {@code edit}. */
    static Path adapterWith(String name, java.util.function.Consumer<ObjectNode> edit) throws IOException {
        Path dir = tmp.resolve(name);
        Files.createDirectories(dir);
        Files.copy(ADAPTER.dir().resolve("adapter_model.safetensors"), dir.resolve("adapter_model.safetensors"));
        ObjectNode cfg = Json.readObjectFile(ADAPTER.dir().resolve("adapter_config.json"));
        edit.accept(cfg);
        Files.writeString(dir.resolve("adapter_config.json"), cfg.toString());
        return dir;
    }

    @Test
    void badAdaptersAreRefusedWithOneLine() throws IOException {
        Path out = tmp.resolve("never");
        Path zero = adapterWith("r0", c -> c.put("r", 0));
        assertBadInput(run("merge-lora", BASE.dir().toString(), zero.toString(), "-o", out.toString()), "r is 0");
        Path ranked = adapterWith("ranked", c -> c.putObject("rank_pattern").put("q_proj", 4));
        assertBadInput(run("merge-lora", BASE.dir().toString(), ranked.toString(), "-o", out.toString()),
                "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", "has shape [8, 72] but rank 4");
        Path narrow = adapterWith("narrow", c -> c.putArray("target_modules").add("k_proj"));
        assertBadInput(run("merge-lora", BASE.dir().toString(), narrow.toString(), "-o", out.toString()),
                "q_proj", "target_modules");
        Path falcon = new ReferenceModel("tiny-falcon").dir();
        assertBadInput(run("merge-lora", falcon.toString(), ADAPTER.dir().toString(), "-o", out.toString()),
                "adapts model.layers.0.self_attn.q_proj", "an adapter for another model");
        Path dora = adapterWith("dora", c -> c.put("use_dora", true));
        assertBadInput(run("merge-lora", BASE.dir().toString(), dora.toString(), "-o", out.toString()), "use_dora");
        assertBadInput(run("merge-lora", BASE.dir().toString(), BASE.dir().toString(), "-o", out.toString()),
                "adapter_config.json");
        assertNothingWritten(out);
    }

    /** --adapter: the adapter as a low-rank branch beside the base's weights, without merging. */
    @ParameterizedTest
    @ValueSource(strings = {"standard", "ort-optimized"})
    void anUnmergedAdapterReproducesTheReferenceToo(String graph) throws IOException {
        double worst = runs.forwardError(ADAPTER, BASE.dir(), graph, "--adapter", ADAPTER.dir().toString());
        assertTrue(worst <= 1e-4, "logits with --adapter differ from the reference by " + worst);
        assertArrayEquals(ADAPTER.greedyIds(), runs.greedy(ADAPTER, BASE.dir(), "--graph", graph, "--adapter",
                ADAPTER.dir().toString()));
        Path exported = tmp.resolve("exported-with-adapter-" + graph);
        ok("export-onnx", BASE.dir().toString(), "-o", exported.toString(), "--adapter", ADAPTER.dir().toString(),
                graph.equals("ort-optimized") ? "--ort-optimized" : "--dtype=f32");
        assertArrayEquals(ADAPTER.greedyIds(), runs.greedy(ADAPTER, exported));
        assertBadInput(run("generate", exported.toString(), "--ids", "2,3", "--adapter", ADAPTER.dir().toString()),
                "--adapter needs the checkpoint to export");
    }

    /** On a quantized base the branch costs no requantization: it computes the stored values plus the adapter. */
    @Test
    void anAdapterOnAQuantizedBaseKeepsItsWeightsAsStored() throws IOException {
        Path q = tmp.resolve("base-q8_0.arica");
        ok("quantize", BASE.dir().toString(), "-o", q.toString(), "--scheme", "q8_0", "--no-digest-cache");
        Path dequantized = tmp.resolve("base-q8_0-dequantized");
        ok("convert", q.toString(), "-o", dequantized.toString());
        Path mergedIntoStored = tmp.resolve("merged-into-stored-values");
        ok("merge-lora", dequantized.toString(), ADAPTER.dir().toString(), "-o", mergedIntoStored.toString());
        Path a = tmp.resolve("branch.npy");
        Path b = tmp.resolve("merged.npy");
        String ids = ReferenceRuns.list(ADAPTER.greedyIds());
        runs.run("forward", q, "--ids", ids, "-o", a.toString(), "--adapter", ADAPTER.dir().toString(),
                "--accuracy-level", "0");
        runs.run("forward", mergedIntoStored, "--ids", ids, "-o", b.toString());
        ForwardCommandTest.Npy x = ForwardCommandTest.Npy.read(a);
        ForwardCommandTest.Npy y = ForwardCommandTest.Npy.read(b);
        double worst = 0;
        for (int t = 0; t < x.rows(); t++) {
            for (int v = 0; v < x.cols(); v++) {
                worst = Math.max(worst, Math.abs(x.values()[t][v] - y.values()[t][v]));
            }
        }
        // Measured: 2e-6: the same arithmetic, summed in another order.
        assertTrue(worst <= 1e-4, "q8_0 + adapter branch vs the adapter merged into the stored values: " + worst);
    }

    /** Into an .arica file: the adapted weights dequantized, merged and requantized with the file's layout. */
    @Test
    void mergingIntoAnAricaFileRequantizesTheAdaptedWeights() throws IOException {
        Path q = tmp.resolve("requant-base-q8_0.arica");
        ok("quantize", BASE.dir().toString(), "-o", q.toString(), "--scheme", "q8_0", "--no-digest-cache");
        Path out = tmp.resolve("merged-q8_0.arica");
        CliTesting.Run r = ok("merge-lora", q.toString(), ADAPTER.dir().toString(), "-o", out.toString());
        assertTrue(r.out().contains("28 weights merged"), r.out());
        assertTrue(r.out().matches("(?s).*model\\.layers\\.0\\.self_attn\\.q_proj\\.weight +q8_0 +\\d+\\.\\d .*"), r.out());
        ok("verify", out.toString());
        // The same as dequantizing, merging the floats and quantizing them again, byte for byte.
        Path dequantized = tmp.resolve("requant-dequantized");
        ok("convert", q.toString(), "-o", dequantized.toString());
        Path mergedFloats = tmp.resolve("requant-merged-floats");
        ok("merge-lora", dequantized.toString(), ADAPTER.dir().toString(), "-o", mergedFloats.toString());
        Path expected = tmp.resolve("requant-expected.arica");
        ok("quantize", mergedFloats.toString(), "-o", expected.toString(), "--scheme", "q8_0", "--no-digest-cache");
        try (dev.arica.formats.arica.AricaFile a = dev.arica.formats.arica.AricaFile.open(out);
                dev.arica.formats.arica.AricaFile b = dev.arica.formats.arica.AricaFile.open(expected)) {
            assertEquals(b.entries().size(), a.entries().size());
            for (dev.arica.formats.arica.AricaEntry e : b.entries()) {
                dev.arica.formats.arica.AricaEntry got = a.entry(e.name()).orElseThrow();
                assertEquals(e.storage(), got.storage(), e.name());
                assertEquals(e.crc32c(), got.crc32c(), e.name() + ": stored bytes");
            }
        }
        assertBadInput(run("merge-lora", q.toString(), ADAPTER.dir().toString(), "-o", tmp.resolve("x").toString()),
                "writes an .arica file");
    }

    /**
     * Fused and Conv1D targets: adapters made for Falcon's query_key_value and GPT-2's Conv1D weights (stored
     * [in, out], merged with the delta transposed) compute the same merged as as a branch.
     */
    @ParameterizedTest
    @ValueSource(strings = {"tiny-falcon", "tiny-gpt2"})
    void fusedAndConv1DTargetsMergeAsTheirBranchComputes(String model) throws IOException {
        ReferenceModel ref = new ReferenceModel(model);
        Path adapter = tmp.resolve(model + "-adapter");
        List<String> targets = model.equals("tiny-gpt2") ? List.of("c_attn", "c_proj", "c_fc")
                : List.of("query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h");
        try (Checkpoint base = Checkpoint.open(ref.dir())) {
            List<String> adapted = SyntheticAdapter.write(base, adapter, 4, 8, targets, 0.05, 7);
            assertEquals(12, adapted.size(), "four weights in each of three layers: " + adapted);
        }
        Path merged = tmp.resolve(model + "-merged");
        ok("merge-lora", ref.dir().toString(), adapter.toString(), "-o", merged.toString());
        Path a = tmp.resolve(model + "-branch.npy");
        Path b = tmp.resolve(model + "-merged.npy");
        Path c = tmp.resolve(model + "-base.npy");
        String ids = ReferenceRuns.list(ref.greedyIds());
        runs.run("forward", ref.dir(), "--ids", ids, "-o", a.toString(), "--adapter", adapter.toString());
        runs.run("forward", merged, "--ids", ids, "-o", b.toString());
        runs.run("forward", ref.dir(), "--ids", ids, "-o", c.toString());
        float[][] branch = ForwardCommandTest.Npy.read(a).values();
        float[][] mergedLogits = ForwardCommandTest.Npy.read(b).values();
        float[][] baseLogits = ForwardCommandTest.Npy.read(c).values();
        double worst = 0, changed = 0;
        for (int t = 0; t < branch.length; t++) {
            for (int v = 0; v < branch[t].length; v++) {
                worst = Math.max(worst, Math.abs(branch[t][v] - mergedLogits[t][v]));
                changed = Math.max(changed, Math.abs(baseLogits[t][v] - mergedLogits[t][v]));
            }
        }
        assertTrue(worst <= 1e-4, model + ": merged and branch differ by " + worst);
        assertTrue(changed > 1e-2, model + ": the adapter changes the logits (" + changed + ")");
    }
}
