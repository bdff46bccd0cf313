package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.names;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.Progress;
import dev.arica.formats.testing.Stories260K;
import dev.arica.testdata.SyntheticLlama;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExportOnnxCommandTest {

    @TempDir
    Path tmp;

    /** The inspect JSON's tensors by name. */
    private static Map<String, JsonNode> tensors(JsonNode inspect) {
        Map<String, JsonNode> m = new HashMap<>();
        inspect.get("tensors").forEach(t -> m.put(t.get("name").asText(), t));
        return m;
    }

    @Test
    void exportsStories260KAndInspectReadsTheModel() throws IOException {
        Path bin = Stories260K.checkpoint();
        Path out = tmp.resolve("stories-onnx");
        CliTesting.Run r = ok("export-onnx", bin.toString(), "-o", out.toString());
        assertTrue(r.out().startsWith("wrote " + out + ": 5 layers"), r::toString);
        assertEquals(List.of("arica-genai.json", "config.json", "generation_config.json", "model.onnx", "model.onnx.data",
                "tokenizer.llama2c.bin"), names(out));

        JsonNode j = ok("inspect", "--json", out.resolve("model.onnx").toString()).json();
        assertEquals("onnx", j.get("format").asText());
        assertEquals("[{\"domain\":\"\",\"version\":17}]", j.get("opset_imports").toString());
        JsonNode in = j.get("inputs");
        assertEquals(3 + 2 * 5, in.size());
        assertEquals("input_ids", in.get(0).get("name").asText());
        assertEquals("I64", in.get(0).get("dtype").asText());
        assertEquals("[\"batch_size\",\"sequence_length\"]", in.get(0).get("shape").toString());
        assertEquals("attention_mask", in.get(1).get("name").asText());
        assertEquals("position_ids", in.get(2).get("name").asText());
        assertEquals("past_key_values.0.key", in.get(3).get("name").asText());
        assertEquals("[\"batch_size\",4,\"past_sequence_length\",8]", in.get(3).get("shape").toString());
        JsonNode outs = j.get("outputs");
        assertEquals("logits", outs.get(0).get("name").asText());
        assertEquals("[\"batch_size\",\"sequence_length\",512]", outs.get(0).get("shape").toString());
        assertEquals("present.4.value", outs.get(10).get("name").asText());
        // Seven projections per layer and the output projection, all Gemm.
        assertEquals(5 * 7 + 1, j.get("ops").get("Gemm").asInt());
        assertEquals(j.get("nodes").asInt(), sum(j.get("ops")));
        assertEquals(List.of("model.onnx.data"), List.of(j.get("files").get(0).asText()));

        Map<String, JsonNode> t = tensors(j);
        JsonNode q = t.get("model.layers.0.self_attn.q_proj.weight");
        assertEquals("F32", q.get("dtype").asText());
        assertEquals("[64,64]", q.get("shape").toString());
        assertEquals(16384, q.get("bytes").asLong());
        assertTrue(q.get("external").asBoolean());
        assertEquals("model.onnx.data", q.get("location").asText());
        assertEquals(0, q.get("offset").asLong() % 4096);
        JsonNode norm = t.get("model.layers.0.input_layernorm.weight");
        assertTrue(!norm.get("external").asBoolean() && norm.get("location").isNull(), "256-byte norms stay inline");
        assertEquals(260032, t.values().stream().filter(x -> x.get("name").asText().startsWith("model."))
                .mapToLong(x -> product(x.get("shape"))).sum(), "every weight of the checkpoint");

        String human = ok("inspect", out.resolve("model.onnx").toString()).out();
        assertTrue(Pattern.compile("(?m)^format\\s+onnx \\(IR 8, from arica").matcher(human).find(), human);
        assertTrue(Pattern.compile("(?m)^\\s+input_ids\\s+I64\\s+\\[batch_size, sequence_length]$").matcher(human).find(), human);
        assertTrue(Pattern.compile("(?m)^model\\.embed_tokens\\.weight\\s+F32\\s+\\[512, 64]\\s+.*model\\.onnx\\.data @ \\d+$")
                .matcher(human).find(), human);
    }

    private static long sum(JsonNode counts) {
        long n = 0;
        for (JsonNode c : counts) {
            n += c.asLong();
        }
        return n;
    }

    private static long product(JsonNode shape) {
        long n = 1;
        for (JsonNode d : shape) {
            n *= d.asLong();
        }
        return n;
    }

    @Test
    void f16HalvesTheWeightsOfAnHfDirectory() throws IOException {
        Path hf = tmp.resolve("hf");
        SyntheticLlama.write(hf, SyntheticLlama.Preset.TINY_GQA.spec(), Long.MAX_VALUE, Progress.NONE);
        Path out = tmp.resolve("onnx16");
        ok("export-onnx", hf.toString(), "-o", out.toString(), "--dtype", "f16");
        JsonNode j = ok("inspect", "--json", out.resolve("model.onnx").toString()).json();
        JsonNode head = tensors(j).get("lm_head.weight");
        assertEquals("F16", head.get("dtype").asText());
        assertEquals(256 * 64 * 2, head.get("bytes").asLong());
        JsonNode genai = CliTesting.JSON.readTree(Files.readString(out.resolve("arica-genai.json")));
        assertEquals("f16", genai.get("weight_dtype").asText());
        assertEquals(4, genai.get("num_kv_heads").asInt());
    }

    @Test
    void ortOptimizedUsesOnnxRuntimesFusedOperatorsAndSaysSo() throws IOException {
        Path hf = tmp.resolve("hf");
        SyntheticLlama.write(hf, SyntheticLlama.Preset.TINY_GQA.spec(), Long.MAX_VALUE, Progress.NONE);
        Path out = tmp.resolve("ort");
        CliTesting.Run r = ok("export-onnx", hf.toString(), "-o", out.toString(), "--ort-optimized", "--dtype", "f16");
        assertTrue(r.out().startsWith("wrote " + out + ": 2 layers") && r.out().strip().endsWith("ort-optimized graph"), r::toString);
        JsonNode j = ok("inspect", "--json", out.resolve("model.onnx").toString()).json();
        assertEquals("[{\"domain\":\"\",\"version\":17},{\"domain\":\"com.microsoft\",\"version\":1}]",
                j.get("opset_imports").toString());
        assertEquals(2, j.get("ops").get("com.microsoft:GroupQueryAttention").asInt());
        assertEquals(4, j.get("ops").get("com.microsoft:SkipSimplifiedLayerNormalization").asInt());
        assertEquals("ort-optimized", j.get("metadata").get("arica.flavour").asText());
        assertEquals("[\"batch_size\",4,\"past_sequence_length\",8]", j.get("inputs").get(3).get("shape").toString());
        assertEquals("F16", tensors(j).get("lm_head.weight").get("dtype").asText());
        JsonNode genai = CliTesting.JSON.readTree(Files.readString(out.resolve("arica-genai.json")));
        assertEquals("ort-optimized", genai.get("flavour").asText());
        assertEquals("f16", genai.get("weight_dtype").asText());

        Path standard = tmp.resolve("standard");
        assertTrue(ok("export-onnx", hf.toString(), "-o", standard.toString()).out().strip().endsWith("standard graph"));
        assertEquals("standard", CliTesting.JSON.readTree(Files.readString(standard.resolve("arica-genai.json")))
                .get("flavour").asText());
        assertEquals("standard", ok("inspect", "--json", standard.resolve("model.onnx").toString()).json()
                .get("metadata").get("arica.flavour").asText());
    }

    @Test
    void anExistingDirectoryIsReplacedOnlyWithForce() throws IOException {
        Path bin = Stories260K.checkpoint();
        Path out = Files.createDirectories(tmp.resolve("busy"));
        Files.writeString(out.resolve("notes.txt"), "keep me");
        assertBadInput(run("export-onnx", bin.toString(), "-o", out.toString()), out.toString(), "--force");
        assertEquals(List.of("notes.txt"), names(out));
        ok("export-onnx", bin.toString(), "-o", out.toString(), "--force");
        assertTrue(names(out).contains("model.onnx"));
    }

    @Test
    void aCheckpointWithoutConfigIsRefused() throws IOException {
        Path hf = tmp.resolve("hf");
        SyntheticLlama.write(hf, SyntheticLlama.Preset.TINY.spec(), Long.MAX_VALUE, Progress.NONE);
        Path bare = Files.copy(hf.resolve("model.safetensors"), tmp.resolve("bare.safetensors"));
        Path out = tmp.resolve("never");
        assertBadInput(run("export-onnx", bare.toString(), "-o", out.toString()), bare.toString(), "config.json");
        assertNothingWritten(out);
        Path cfg = hf.resolve("config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"llama\"", "\"bloom\""));
        assertBadInput(run("export-onnx", hf.toString(), "-o", out.toString()), cfg.toString(), "bloom", "supported: llama");
        assertNothingWritten(out);
        // A supported family whose tensors are not its own: the first missing tensor is named.
        Files.writeString(cfg, Files.readString(cfg).replace("\"bloom\"", "\"gpt2\""));
        assertBadInput(run("export-onnx", hf.toString(), "-o", out.toString()), hf.toString(), "'wte.weight'", "gpt2");
        assertNothingWritten(out);
        assertBadInput(run("export-onnx", hf.toString(), "-o", out.toString(), "--dtype", "bf16"), "--dtype");
    }

    @Test
    void helpDocumentsTheOptions() {
        String out = ok("export-onnx", "--help").out();
        for (String option : List.of("IN", "-o", "--output", "--dtype", "--force", "--tokenizer", "f16", "--ort-optimized")) {
            assertTrue(out.contains(option), () -> "mentions " + option + "\n" + out);
        }
        assertTrue(Pattern.compile("(?m)^\\s+export-onnx\\s").matcher(ok("--help").out()).find(), "listed in arica --help");
        assertEquals(ok("--version").out(), ok("export-onnx", "--version").out());
    }
}
