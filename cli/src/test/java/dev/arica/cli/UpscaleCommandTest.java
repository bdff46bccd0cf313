package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.names;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static dev.arica.cli.CliTesting.sha256;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.Progress;
import dev.arica.formats.arica.AricaEntry;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.testing.Stories260K;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.generate.GenAiConfig;
import dev.arica.runtime.generate.Generator;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.generate.Sampler;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@code arica upscale}: the acceptance tests on the real stories260K, its .arica form, and a Mistral config. */
class UpscaleCommandTest {

    @TempDir
    Path tmp;

    private static final Pattern LAYER = Pattern.compile("^model\\.layers\\.(\\d+)\\.(.+)$");

    /** stories260K (5 layers) imported as an HF directory. */
    private Path stories() {
        Path dir = tmp.resolve("stories260K");
        if (!Files.isDirectory(dir)) {
            ok("convert", Stories260K.checkpoint().toString(), "-o", dir.toString());
        }
        return dir;
    }

    /** The source tensor an output tensor copies, by the layer map. */
    private static String source(String name, int[] map) {
        Matcher m = LAYER.matcher(name);
        return m.matches() ? "model.layers." + map[Integer.parseInt(m.group(1))] + "." + m.group(2) : name;
    }

    private static int[] ints(JsonNode array) {
        int[] out = new int[array.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = array.get(i).asInt();
        }
        return out;
    }

    /**
     * Exports {@code hf} to ONNX with the runtime library and generates {@code tokens} tokens greedily after a
     * prompt, stop tokens ignored so that every step runs.
     */
    private Generator.Result exportAndGenerate(Path hf, int tokens) throws IOException {
        Path onnx = tmp.resolve(hf.getFileName() + "-onnx");
        OnnxExporter.Result exported;
        try (Checkpoint c = Checkpoint.open(hf)) {
            exported = OnnxExporter.export(c, onnx, OnnxExporter.Options.defaults(), Progress.NONE);
        }
        GenAiConfig genai = GenAiConfig.read(onnx.resolve(GenAiConfig.FILE));
        Tokenizer tok = Tokenizer.open(onnx);
        try (InferenceSession session = InferenceSession.open(onnx.resolve(OnnxExporter.MODEL_FILE),
                InferenceSession.Options.of(Device.CPU)); OnnxDecoder d = new OnnxDecoder(session, genai)) {
            StringBuilder text = new StringBuilder();
            Generator.Result r = new Generator(d, tok).generate(tok.encode("Once upon a time", true),
                    new Generator.Settings(tokens, new int[0]), Sampler.greedy(), text::append);
            assertEquals(tokens, r.generatedTokens(), "every step ran");
            for (int id : r.generatedIds()) {
                assertTrue(id >= 0 && id < tok.vocabSize(), "id " + id);
            }
            assertEquals(exported.config().layers(), CliTesting.JSON.readTree(onnx.resolve("arica-genai.json").toFile()).get("num_layers")
                    .asInt());
            return r;
        }
    }

    @Test
    void solarDropOfOneLayerGivesEightLayersCopiedByteForByteThatExportAndGenerate() throws IOException {
        Path in = stories();
        Path out = tmp.resolve("up8");
        JsonNode j = ok("upscale", in.toString(), "-o", out.toString(), "--drop", "1", "--json").json();
        assertEquals(5, j.get("source_layers").asInt());
        assertEquals(8, j.get("layers").asInt());
        assertEquals("[\"0:4\",\"1:5\"]", j.get("slices").toString());
        int[] map = ints(j.get("layer_map"));
        assertArrayEquals(new int[] {0, 1, 2, 3, 1, 2, 3, 4}, map);
        assertEquals(out.toString(), j.get("output").asText());
        assertEquals(1, j.get("shards").asInt());

        CliTesting.StRead a = CliTesting.StRead.of(in.resolve("model.safetensors"));
        CliTesting.StRead b = CliTesting.StRead.of(out.resolve("model.safetensors"));
        // Tied embeddings: embed_tokens and the final norm outside the layers, 9 tensors in each layer.
        assertEquals(2 + 8 * 9, b.tensorNames().size());
        assertEquals(j.get("tensors").asInt(), b.tensorNames().size());
        List<String> layersSeen = new ArrayList<>();
        for (String name : b.tensorNames()) {
            String src = source(name, map);
            assertArrayEquals(a.byteArray(src), b.byteArray(name), name + " <- " + src);
            assertEquals(a.dtype(src), b.dtype(name));
            assertArrayEquals(a.shape(src), b.shape(name));
            Matcher m = LAYER.matcher(name);
            if (m.matches() && !layersSeen.contains(m.group(1))) {
                layersSeen.add(m.group(1));
            }
        }
        assertEquals(List.of("0", "1", "2", "3", "4", "5", "6", "7"), layersSeen);
        for (String nonLayer : List.of("model.embed_tokens.weight", "model.norm.weight")) {
            assertArrayEquals(a.byteArray(nonLayer), b.byteArray(nonLayer), nonLayer);
        }
        long parameters = 0;
        for (String name : b.tensorNames()) {
            long n = 1;
            for (long d : b.shape(name)) {
                n *= d;
            }
            parameters += n;
        }
        assertEquals(j.get("parameters").asLong(), parameters);
        assertEquals(j.get("bytes").asLong(), b.dataBytes());

        JsonNode meta = b.header().get("__metadata__");
        assertEquals("[0,1,2,3,1,2,3,4]", meta.get("arica.upscale.layer_map").asText());
        assertEquals("0:4,1:5", meta.get("arica.upscale.slices").asText());
        assertEquals("5", meta.get("arica.upscale.source_layers").asText());

        ObjectNode configIn = (ObjectNode) CliTesting.JSON.readTree(in.resolve("config.json").toFile());
        ObjectNode configOut = (ObjectNode) CliTesting.JSON.readTree(out.resolve("config.json").toFile());
        assertEquals(8, configOut.get("num_hidden_layers").asInt());
        assertEquals(configIn.put("num_hidden_layers", 8), configOut, "only the layer count changes");
        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.llama2c.bin"),
                names(out));
        for (String side : List.of("generation_config.json", "tokenizer.llama2c.bin")) {
            assertEquals(sha256(in.resolve(side)), sha256(out.resolve(side)), side);
        }

        exportAndGenerate(out, 24);
    }

    @Test
    void oneRangeOverEveryLayerGivesTheInputsTensorsAndTheSameGeneration() throws IOException {
        Path in = stories();
        Path out = tmp.resolve("same");
        ok("upscale", in.toString(), "-o", out.toString(), "--slices", "0:5");
        CliTesting.StRead a = CliTesting.StRead.of(in.resolve("model.safetensors"));
        CliTesting.StRead b = CliTesting.StRead.of(out.resolve("model.safetensors"));
        assertEquals(a.tensorNames().stream().sorted().toList(), b.tensorNames().stream().sorted().toList());
        for (String name : a.tensorNames()) {
            assertArrayEquals(a.byteArray(name), b.byteArray(name), name);
            assertEquals(a.entry(name).get("dtype"), b.entry(name).get("dtype"));
            assertEquals(a.entry(name).get("shape"), b.entry(name).get("shape"));
        }
        assertEquals(a.dataBytes(), b.dataBytes());
        assertEquals(CliTesting.JSON.readTree(in.resolve("config.json").toFile()),
                CliTesting.JSON.readTree(out.resolve("config.json").toFile()));
        assertArrayEquals(exportAndGenerate(in, 16).ids(), exportAndGenerate(out, 16).ids(),
                "the same weights generate the same tokens");
    }

    @Test
    void quantizedAricaIsUpscaledAsStoredVerifiesAndGeneratesOnceDequantized() throws IOException {
        Path q8 = tmp.resolve("stories-q8_0.arica");
        // Not ok(): a slow quantization reports progress on stderr.
        assertEquals(ExitCode.OK, run("quantize", Stories260K.checkpoint().toString(), "-o",
                q8.toString(), "--scheme", "q8_0", "--no-digest-cache").exit());
        Path up = tmp.resolve("up-q8_0.arica");
        JsonNode j = ok("upscale", q8.toString(), "-o", up.toString(), "--drop", "1", "--json").json();
        assertEquals("arica", j.get("kind").asText());
        int[] map = ints(j.get("layer_map"));
        assertArrayEquals(new int[] {0, 1, 2, 3, 1, 2, 3, 4}, map);
        assertTrue(ok("verify", up.toString()).out().contains("OK, 74 tensors"));
        assertBadInput(run("upscale", q8.toString(), "-o", tmp.resolve("x.arica").toString(), "--drop", "1",
                "--max-shard-size", "1GB"), "--max-shard-size applies to HF directory outputs");

        int quantized = 0;
        try (AricaFile a = AricaFile.open(q8); AricaFile b = AricaFile.open(up)) {
            assertEquals(74, b.entries().size());
            for (AricaEntry e : b.entries()) {
                AricaEntry s = a.entry(source(e.name(), map)).orElseThrow();
                assertArrayEquals(a.stored(s).toArray(ValueLayout.JAVA_BYTE), b.stored(e).toArray(ValueLayout.JAVA_BYTE),
                        e.name() + " <- " + s.name());
                assertEquals(s.storage(), e.storage());
                if (e.storage() instanceof Storage.Quantized q) {
                    assertEquals("q8_0", q.layout().scheme().id());
                    quantized++;
                }
            }
            assertEquals(8 * 7, quantized, "the seven projections of every layer, still q8_0");
            assertEquals(8, b.config().orElseThrow().get("num_hidden_layers").asInt());
            JsonNode provenance = b.index().get("provenance");
            assertEquals("q8_0", provenance.get("quantization").get("scheme").asText());
            assertEquals("[0,1,2,3,1,2,3,4]", provenance.get("upscale").get("layer_map").toString());
            assertEquals(List.of("generation_config.json", "tokenizer.llama2c.bin"),
                    b.files().stream().map(AricaFile.FileEntry::name).sorted().toList());
        }

        // ONNX export of quantized files arrives with issue 5: dequantize first, as a user would today.
        Path deq = tmp.resolve("up-q8_0-deq");
        ok("convert", up.toString(), "-o", deq.toString());
        exportAndGenerate(deq, 24);
    }

    @Test
    void dryRunOfMistral7BConfigPlansFortyEightLayersAndTenPointSevenBillionParameters() throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("mistral-7b"));
        Files.writeString(dir.resolve("config.json"), """
                {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "hidden_size": 4096,
                 "intermediate_size": 14336, "num_hidden_layers": 32, "num_attention_heads": 32,
                 "num_key_value_heads": 8, "vocab_size": 32000, "tie_word_embeddings": false,
                 "torch_dtype": "bfloat16"}""");
        // head_dim = 4096 / 32 = 128, so k and v have 8 x 128 = 1024 rows.
        long perLayer = 4096L * 4096 // q_proj
                + 2 * 4096L * 1024 // k_proj, v_proj
                + 4096L * 4096 // o_proj
                + 3 * 4096L * 14336 // gate, up, down
                + 2 * 4096; // input and post-attention norms
        long embeddings = 32000L * 4096;
        long expected = embeddings + 48 * perLayer + 4096 /* final norm */ + embeddings /* lm_head, untied */;
        assertEquals(10_731_524_096L, expected);

        String text = ok("upscale", dir.toString(), "--drop", "8", "--dry-run").out();
        assertTrue(text.contains("\n  24 <- 8\n") && text.contains("\n  23 <- 23\n") && text.contains("\n  47 <- 31\n"), text);
        assertTrue(text.contains("layers: 48 (from 32; ranges 0:24,8:32)"), text);
        assertTrue(text.contains("parameters: 10,731,524,096 (from 7,241,732,096), computed from config.json"), text);
        assertTrue(text.contains("size: 21.5 GB"), text);
        assertTrue(text.contains("dry run: nothing written"), text);

        JsonNode j = ok("upscale", dir.resolve("config.json").toString(), "--drop", "8", "--dry-run", "--json").json();
        assertEquals(48, j.get("layers").asInt());
        assertEquals(expected, j.get("parameters").asLong());
        assertEquals(2 * expected, j.get("bytes").asLong(), "bfloat16");
        assertTrue(j.get("estimated").asBoolean());
        assertTrue(j.get("output").isNull());
        assertEquals(List.of("config.json"), names(dir), "nothing written");
    }

    @Test
    void dryRunOfAModelCountsItsTensorsAndWritesNothing() throws IOException {
        Path in = stories();
        Path out = tmp.resolve("not-written");
        JsonNode plan = ok("upscale", in.toString(), "-o", out.toString(), "--drop", "1", "--dry-run", "--json").json();
        assertNothingWritten(out);
        assertFalse(plan.get("estimated").asBoolean());
        JsonNode real = ok("upscale", in.toString(), "-o", out.toString(), "--drop", "1", "--json").json();
        for (String key : List.of("layers", "layer_map", "tensors", "parameters", "bytes", "source_parameters")) {
            assertEquals(real.get(key), plan.get(key), key);
        }
        // 260,032 parameters, of which 512 x 64 + 64 lie outside the layers: (260,032 - 32,832) / 5 = 45,440 per layer.
        assertEquals(260_032 + 3 * 45_440, plan.get("parameters").asLong());
    }

    @Test
    void existingOutputIsReplacedOnlyWithForce() throws IOException {
        Path in = stories();
        Path out = Files.createDirectory(tmp.resolve("busy"));
        Files.writeString(out.resolve("keep"), "x");
        assertBadInput(run("upscale", in.toString(), "-o", out.toString(), "--drop", "1"), out.toString(), "--force");
        assertEquals(List.of("keep"), names(out));
        ok("upscale", in.toString(), "-o", out.toString(), "--drop", "1", "--force");
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
    }

    // ---- refusals: one line, exit 2, nothing written ----

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--slices | 0:4,3:6 | layer range 3:6 reaches outside the model's 5 layers: ranges lie within 0:5",
        "--slices | 0:5,2:2 | layer range 2:2 is empty",
        "--slices | 4:1     | layer range 4:1 is reversed",
        "--drop   | 5       | --drop 5 leaves no layers: the model has 5 layers, so at most --drop 4",
    })
    void layersThatDoNotFitTheModelAreRefused(String option, String value, String message) throws IOException {
        Path out = tmp.resolve("out");
        assertBadInput(run("upscale", stories().toString(), "-o", out.toString(), option, value), message);
        assertNothingWritten(out);
    }

    /** An HF directory with the given config and one small tensor per name. */
    private Path handMade(String name, String config, String... tensors) throws IOException {
        Path dir = Files.createDirectory(tmp.resolve(name));
        CliTesting.St st = new CliTesting.St().f32("model.embed_tokens.weight", new long[] {2}, 1, 2);
        for (String t : tensors) {
            st.f32(t, new long[] {2}, 3, 4);
        }
        st.write(dir.resolve("model.safetensors"));
        if (config != null) {
            Files.writeString(dir.resolve("config.json"), config);
        }
        return dir;
    }

    @Test
    void layersNotNumberedFromZeroWithoutGapsAreRefused() throws IOException {
        Path gap = handMade("gap", "{\"num_hidden_layers\": 3}", "model.layers.0.w", "model.layers.2.w", "model.layers.3.w");
        Path out = tmp.resolve("out");
        assertBadInput(run("upscale", gap.toString(), "-o", out.toString(), "--drop", "1"),
                gap.toString(), "tensor 'model.layers.3.w'", "belongs to layer 3, but num_hidden_layers is 3");
        Path missing = handMade("missing", "{\"num_hidden_layers\": 3}", "model.layers.0.w", "model.layers.2.w");
        assertBadInput(run("upscale", missing.toString(), "-o", out.toString(), "--drop", "1"),
                missing.toString(), "has no tensors of layer 1", "numbered 0..2");
        assertNothingWritten(out);
    }

    @Test
    void configWithoutNumHiddenLayersIsRefused() throws IOException {
        Path in = handMade("gpt2-like", "{\"n_layer\": 2}", "h.0.w", "h.1.w");
        Path out = tmp.resolve("out");
        assertBadInput(run("upscale", in.toString(), "-o", out.toString(), "--drop", "1"),
                in.resolve("config.json").toString(), "has no \"num_hidden_layers\"");
        assertBadInput(run("upscale", in.resolve("config.json").toString(), "--drop", "1", "--dry-run"),
                "has no \"num_hidden_layers\"");
        Path none = handMade("no-config", null, "model.layers.0.w");
        assertBadInput(run("upscale", none.toString(), "-o", out.toString(), "--drop", "1"), "config.json: is missing");
        assertNothingWritten(out);
    }

    @Test
    void usageErrorsAreRefused() throws IOException {
        String in = stories().toString();
        Path out = tmp.resolve("out");
        assertBadInput(run("upscale", in, "-o", out.toString()), "--drop", "--slices");
        assertBadInput(run("upscale", in, "-o", out.toString(), "--drop", "1", "--slices", "0:5"), "mutually exclusive");
        assertBadInput(run("upscale", in, "--drop", "1"), "-o/--output is required", "--dry-run");
        assertBadInput(run("upscale", in, "-o", out.toString(), "--slices", "0-5"), "--slices", "'0-5'", "START:END");
        assertBadInput(run("upscale", in, "-o", out.toString(), "--drop", "1", "--max-shard-size", "lots"),
                "--max-shard-size");
        assertBadInput(run("upscale", in, "-o", in, "--drop", "1", "--force"), "is the input");
        assertBadInput(run("upscale", in + "/model.safetensors", "-o", out.toString(), "--drop", "1"),
                "is not an HF directory, an .arica file or a config.json");
        assertBadInput(run("upscale", tmp.resolve("nowhere").toString(), "-o", out.toString(), "--drop", "1"),
                "no such file");
        assertNothingWritten(out);
        Path configOnly = Files.createDirectory(tmp.resolve("config-only"));
        Files.copy(Path.of(in, "config.json"), configOnly.resolve("config.json"));
        assertBadInput(run("upscale", configOnly.toString(), "-o", out.toString(), "--drop", "1"),
                "only a dry run works from config.json alone");
        assertNothingWritten(out);
    }
}
