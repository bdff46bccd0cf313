package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.testing.Stories260K;
import dev.arica.formats.testing.TestModels;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code quantize --method search|gptq} on stories260K, measured by {@code validate} against the f32 checkpoint on the
 * default validation texts (as stored: MatMulNBits, int8 activations), calibrated on the built-in text; and its
 * refusals.
 */
class CalibratedQuantizeTest {

    @TempDir
    static Path tmp;

    static Path bin;

    @BeforeAll
    static void setUp() {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        bin = Stories260K.checkpoint();
    }

    /** Quantizes stories260K with {@code args}, the JSON report beside the file; returns the report. */
    static JsonNode quantize(String name, String... args) throws IOException {
        Path out = tmp.resolve(name + ".arica");
        Path report = tmp.resolve(name + ".json");
        List<String> all = new ArrayList<>(List.of("quantize", bin.toString(), "-o", out.toString(), "--no-digest-cache",
                "--report", report.toString()));
        all.addAll(Arrays.asList(args));
        CliTesting.Run r = run(all.toArray(String[]::new));
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        List<String> err = r.err().lines().filter(l -> !l.startsWith("arica: exported ")
                && !l.matches("[a-z-]+: +\\d+\\.\\d% .* of .*/s")).toList(); // progress shows on a loaded machine
        if (all.contains("--tune-steps")) {
            // What was measured and sampled, then what tuning reached.
            assertEquals(2, err.size(), r::toString);
            assertTrue(err.getFirst().matches("arica: calibration: \\d+ tokens of the built-in English text, the inputs "
                    + "of 36 weights measured, \\d+ sequences \\(\\d+ tokens\\) sampled for tuning in \\S+ s"), r::toString);
            assertTrue(err.get(1).matches("arica: tuning: \\d+ tensors' scales tuned in \\d+ steps \\(kept: step \\d+\\) on "
                    + "\\d+ sampled sequences \\(\\d+ tokens\\); held-out KL \\S+ -> \\S+, in \\S+ s"), r::toString);
        } else if (all.contains("--method") && !all.contains("rtn")) {
            // The one line saying what was measured, after the float graph's export.
            assertEquals(1, err.size(), r::toString);
            assertTrue(err.getFirst().matches("arica: calibration: \\d+ tokens of the built-in English text, the inputs "
                    + "of 36 weights measured in \\S+ s"), r::toString);
        } else {
            assertEquals(List.of(), err, r::toString);
        }
        return CliTesting.JSON.readTree(Files.readString(report));
    }

    /** validate against the f32 checkpoint: {top-1 agreement, mean KL}. */
    static double[] validate(String name) throws IOException {
        JsonNode tf = CliTesting.teacherForcedAgainstStories(tmp.resolve(name + ".arica"), tmp.resolve("cache"));
        return new double[] {tf.get("top1_agreement").asDouble(), tf.get("mean_kl").asDouble()};
    }

    /** Stored bits per weight over the quantized tensors: every byte (codes, scales, zero points, padding) counted. */
    static double bitsPerWeight(JsonNode report) {
        long bytes = 0;
        long elements = 0;
        for (JsonNode t : report.get("tensors")) {
            if (t.get("quantized").asBoolean()) {
                bytes += t.get("raw_bytes").asLong();
                long n = 1;
                for (JsonNode d : t.get("shape")) {
                    n *= d.asLong();
                }
                elements += n;
            }
        }
        return 8.0 * bytes / elements;
    }

    /**
     * One scheme for every tensor (int4 g32 asymmetric by GPTQ): at most 5 bits per weight, closer to the f32 model than
     * round to nearest on both figures. Measured: GPTQ 0.913 / 3.5e-2 against round to nearest's 0.888 / 5.9e-2.
     */
    @Test
    void gptqInt4BeatsRoundToNearestWithinFiveBitsPerWeight() throws IOException {
        JsonNode gptq = quantize("int4-gptq", "--scheme", "int4", "--asymmetric", "--method", "gptq");
        assertEquals("gptq", gptq.get("method").asText());
        assertTrue(gptq.get("calibration").asText().matches("\\d+ tokens of the built-in English text"), gptq::toString);
        for (JsonNode t : gptq.get("tensors")) {
            if (t.get("quantized").asBoolean()) {
                assertTrue(t.get("reason").asText().endsWith("; gptq"), t::toString);
            }
        }
        double bits = bitsPerWeight(gptq);
        assertTrue(bits <= 5.0 && bits > 4.5, "bits per weight " + bits);
        JsonNode rtn = quantize("int4-rtn", "--scheme", "int4", "--asymmetric");
        assertEquals("rtn", rtn.get("method").asText());
        assertEquals(bits, bitsPerWeight(rtn), 0.0, "the same layout");
        double[] g = validate("int4-gptq");
        double[] r = validate("int4-rtn");
        assertTrue(g[0] > r[0] && g[1] < 0.75 * r[1], "GPTQ " + Arrays.toString(g) + ", round to nearest " + Arrays.toString(r));
        assertTrue(g[0] >= 0.90 && g[1] <= 0.045, "GPTQ " + Arrays.toString(g));
    }

    /**
     * The mixed 4-bit without tuning: int4 g64 asymmetric by GPTQ with the key and value projections in int8 g64 (the
     * tensors that cost the most agreement per weight): at most 5 bits per weight, and a lower KL than all-int4 g32,
     * which spends its bits on every tensor alike. Measured: 0.927 / 2.6e-2 at 4.85 bits against 0.913 / 3.5e-2 at 4.76.
     */
    @Test
    void mixedPrecisionGptqIsClosestWithinFiveBitsPerWeight() throws IOException {
        JsonNode mixed = quantize("mixed-gptq", "--scheme", "int4", "--asymmetric", "--group-size", "64", "--method", "gptq",
                "--tensor-scheme", "(k|v)_proj=int8");
        for (JsonNode t : mixed.get("tensors")) {
            if (t.get("quantized").asBoolean()) {
                assertEquals(t.get("name").asText().matches(".*\\.(k|v)_proj\\..*") ? "int8 g64 asym" : "int4 g64 asym",
                        t.get("storage").asText(), t::toString);
                assertTrue(t.get("reason").asText().endsWith("; gptq"), t::toString);
            }
        }
        double bits = bitsPerWeight(mixed);
        assertTrue(bits <= 5.0 && bits > 4.8, "bits per weight " + bits);
        quantize("int4-g32-gptq", "--scheme", "int4", "--asymmetric", "--method", "gptq");
        double[] m = validate("mixed-gptq");
        double[] u = validate("int4-g32-gptq");
        assertTrue(m[1] < 0.85 * u[1], "mixed " + Arrays.toString(m) + ", int4 g32 " + Arrays.toString(u));
        assertTrue(m[0] >= 0.92 && m[1] <= 0.03, "mixed " + Arrays.toString(m));
    }

    /**
     * The recommended 4-bit: the mixed layout above with its group scales tuned end to end on text sampled from the f32
     * model (100 steps on 256 sequences): the goal, top-1 agreement at least 0.95 and mean KL at most 0.02 within
     * 5 bits per weight, on the validation texts, which tuning never sees. Measured: 0.958 / 1.84e-2 at 4.85 bits.
     */
    @Test
    void tunedMixedPrecisionReachesTheGoalWithinFiveBitsPerWeight() throws IOException {
        JsonNode tuned = quantize("tuned", "--scheme", "int4", "--asymmetric", "--group-size", "64", "--method", "gptq",
                "--tensor-scheme", "(k|v)_proj=int8", "--tune-steps", "100");
        JsonNode t = tuned.get("tuning");
        assertEquals(100, t.get("steps").asInt(), t::toString);
        assertEquals(35, t.get("tensors").asInt(), t::toString);
        assertEquals(224, t.get("training_sequences").asInt(), t::toString);
        assertEquals(32, t.get("held_out_sequences").asInt(), t::toString);
        assertTrue(t.get("held_out_kl_after").asDouble() < 0.9 * t.get("held_out_kl_before").asDouble(), t::toString);
        double bits = bitsPerWeight(tuned);
        assertTrue(bits <= 5.0 && bits > 4.8, "bits per weight " + bits);
        double[] v = validate("tuned");
        assertTrue(v[0] >= 0.95 && v[1] <= 0.02, "tuned " + Arrays.toString(v));
        try (AricaFile f = AricaFile.open(tmp.resolve("tuned.arica"))) {
            assertEquals(t, f.index().at("/provenance/quantization/tuning"), "the file records the tuning as the report does");
        }
    }

    /**
     * An HF Llama directory of 88,097,792 float32 parameters (hidden 1024, 8 layers, vocab 2048, untied) whose
     * safetensors file is sparse: its header is real, its data zeros that take no disk.
     */
    private static Path largeLlama(Path dir) throws IOException {
        int hidden = 1024;
        int ff = 2048;
        int layers = 8;
        int vocab = 2048;
        ObjectNode config = CliTesting.JSON.createObjectNode();
        config.putArray("architectures").add("LlamaForCausalLM");
        config.put("model_type", "llama").put("hidden_size", hidden).put("intermediate_size", ff)
                .put("num_hidden_layers", layers).put("num_attention_heads", 16).put("num_key_value_heads", 16)
                .put("vocab_size", vocab).put("max_position_embeddings", 512).put("rms_norm_eps", 1e-5)
                .put("tie_word_embeddings", false).put("bos_token_id", 1).put("eos_token_id", 2);
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("config.json"), config.toString());
        java.util.Map<String, long[]> shapes = new java.util.LinkedHashMap<>();
        shapes.put("model.embed_tokens.weight", new long[] {vocab, hidden});
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            shapes.put(p + "input_layernorm.weight", new long[] {hidden});
            for (String w : List.of("q_proj", "k_proj", "v_proj", "o_proj")) {
                shapes.put(p + "self_attn." + w + ".weight", new long[] {hidden, hidden});
            }
            shapes.put(p + "post_attention_layernorm.weight", new long[] {hidden});
            shapes.put(p + "mlp.gate_proj.weight", new long[] {ff, hidden});
            shapes.put(p + "mlp.up_proj.weight", new long[] {ff, hidden});
            shapes.put(p + "mlp.down_proj.weight", new long[] {hidden, ff});
        }
        shapes.put("model.norm.weight", new long[] {hidden});
        shapes.put("lm_head.weight", new long[] {vocab, hidden});
        ObjectNode header = CliTesting.JSON.createObjectNode();
        long at = 0;
        for (var e : shapes.entrySet()) {
            long n = Arrays.stream(e.getValue()).reduce(1, Math::multiplyExact);
            ObjectNode t = header.putObject(e.getKey()).put("dtype", "F32");
            Arrays.stream(e.getValue()).forEach(t.putArray("shape")::add);
            t.putArray("data_offsets").add(at).add(at + 4 * n);
            at += 4 * n;
        }
        byte[] json = header.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Path file = dir.resolve("model.safetensors");
        try (var f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            f.write(java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(json.length).array());
            f.write(json);
            f.setLength(8 + json.length + at);
        }
        return dir;
    }

    /** search q4_0 (valid GGML blocks, llama.cpp's importance-matrix idea) is better than round to nearest on both figures. */
    @Test
    void searchQ4_0BeatsRoundToNearest() throws IOException {
        JsonNode search = quantize("q4-search", "--scheme", "q4_0", "--method", "search");
        assertEquals("search", search.get("method").asText());
        quantize("q4-rtn", "--scheme", "q4_0");
        double[] s = validate("q4-search");
        double[] r = validate("q4-rtn");
        assertTrue(s[0] > r[0] && s[1] < r[1], "search " + Arrays.toString(s) + ", round to nearest " + Arrays.toString(r));
    }

    @Test
    void unsupportedInputsAndOptionsAreRefusedInOneLine() throws IOException {
        Path out = tmp.resolve("refused.arica");
        assertBadInput(run("quantize", bin.toString(), "-o", out.toString(), "--scheme", "q8_0", "--method", "gptq"),
                "--method gptq writes --scheme q4_0, int4 or int8");
        assertBadInput(run("quantize", bin.toString(), "-o", out.toString(), "--scheme", "q4_0", "--method", "best"),
                "--method: unknown method 'best'");
        assertBadInput(run("quantize", bin.toString(), "-o", out.toString(), "--scheme", "q4_0", "--calibration-tokens",
                "100"), "apply to --method search and gptq");
        assertBadInput(run("quantize", bin.toString(), "-o", out.toString(), "--scheme", "q4_0", "--method", "search",
                "--calibration-tokens", "1"), "--calibration-tokens");
        assertBadInput(run("quantize", bin.toString(), "-o", out.toString(), "--scheme", "q4_0", "--method", "search",
                "--calibration", tmp.resolve("missing.txt").toString()), "--calibration: cannot read");
        assertBadInput(run("quantize", Stories260K.gguf("q4_0").toString(), "-o", out.toString(), "--scheme", "q4_0",
                "--method", "gptq"), "already quantized", "calibration supports decoder checkpoints");
        assertBadInput(run("quantize", TestModels.dir("tiny-bert").toString(), "-o", out.toString(), "--scheme", "int8",
                "--method", "search"), "not a decoder", "calibration supports decoder checkpoints");
        assertBadInput(run("quantize", bin.toString(), "-o", out.toString(), "--scheme", "q4_0", "--tune-steps", "10"),
                "--tune-steps and --tune-samples apply to --method search and gptq");
        assertBadInput(run("quantize", bin.toString(), "-o", out.toString(), "--scheme", "q4_0", "--method", "gptq",
                "--tune-samples", "10"), "--tune-samples applies with --tune-steps");
        assertBadInput(run("quantize", bin.toString(), "-o", out.toString(), "--scheme", "q4_0", "--method", "gptq",
                "--tune-steps", "-1"), "--tune-steps: at least 0");
        assertBadInput(run("quantize", bin.toString(), "-o", out.toString(), "--scheme", "q4_0", "--method", "gptq",
                "--tune-steps", "5", "--tune-samples", "1"), "--tune-samples: at least 2");
        assertBadInput(run("quantize", TestModels.dir("tiny-gemma2").toString(), "-o", out.toString(), "--scheme", "int4",
                "--method", "gptq", "--tune-steps", "5"), "--tune-steps", "tiny-gemma2", "only the Llama architecture");
        assertBadInput(run("quantize", TestModels.dir("tiny-gpt2").toString(), "-o", out.toString(), "--scheme", "int4",
                "--method", "gptq", "--tune-steps", "5"), "--tune-steps", "tiny-gpt2", "only the Llama architecture");
        // A Llama of 88 M parameters (a sparse file: nothing is read before the refusal) is more than tuning holds.
        Path large = largeLlama(tmp.resolve("large-llama"));
        assertBadInput(run("quantize", large.toString(), "-o", out.toString(), "--scheme", "int4", "--method", "gptq",
                "--tune-steps", "5"), "--tune-steps", large.toString(), "88,097,792 parameters",
                "tuning holds it in memory, up to 67,108,864");
        // A Llama without a beginning-of-sequence token: nothing to start the samples from, refused before calibrating.
        Path noBos = tmp.resolve("no-bos");
        CliTesting.ok("convert", bin.toString(), "-o", noBos.toString());
        for (String file : List.of("config.json", "generation_config.json")) {
            ObjectNode c = (ObjectNode) CliTesting.JSON.readTree(noBos.resolve(file).toFile());
            c.remove("bos_token_id");
            Files.writeString(noBos.resolve(file), c.toString());
        }
        assertBadInput(run("quantize", noBos.toString(), "-o", out.toString(), "--scheme", "int4", "--method", "gptq",
                "--tune-steps", "5"), "--tune-steps", noBos.toString(), "no beginning-of-sequence token");
        assertNothingWritten(out);
    }
}
