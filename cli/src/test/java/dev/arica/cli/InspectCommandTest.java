package dev.arica.cli;

import static dev.arica.cli.CliTesting.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.testing.Stories260K;
import dev.arica.formats.testing.TestModels;
import dev.arica.testdata.SyntheticLlama;
import dev.arica.testdata.SyntheticLlama.Preset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class InspectCommandTest {

    @TempDir
    Path tmp;

    private Path synth(Preset p) throws IOException {
        Path dir = tmp.resolve(p.name().toLowerCase(Locale.ROOT));
        SyntheticLlama.write(dir, p.spec(), Long.MAX_VALUE, Progress.NONE);
        return dir;
    }

    private static long parameters(SyntheticLlama.Spec s) {
        return SyntheticLlama.tensors(s).stream().mapToLong(TensorInfo::elements).sum();
    }

    private static long bytes(SyntheticLlama.Spec s) {
        return SyntheticLlama.tensors(s).stream().mapToLong(TensorInfo::byteSize).sum();
    }

    /** The "tensors" array equals the spec's tensors, in order, with dtype, shape and byte count. */
    private static void assertTensors(List<TensorInfo> expected, JsonNode tensors) {
        assertTrue(tensors.isArray(), "tensors is not an array");
        assertEquals(expected.size(), tensors.size(), "tensor count");
        for (int i = 0; i < expected.size(); i++) {
            TensorInfo t = expected.get(i);
            JsonNode o = tensors.get(i);
            assertEquals(t.name(), o.path("name").asText(), "name of tensor " + i);
            assertEquals(t.dtype().name(), o.path("dtype").asText(), t.name() + " dtype");
            long[] shape = new long[o.path("shape").size()];
            for (int d = 0; d < shape.length; d++) {
                assertTrue(o.get("shape").get(d).isIntegralNumber());
                shape[d] = o.get("shape").get(d).asLong();
            }
            assertEquals(Arrays.toString(t.shape()), Arrays.toString(shape), t.name() + " shape");
            assertEquals(t.byteSize(), o.path("bytes").asLong(), t.name() + " bytes");
        }
    }

    @ParameterizedTest
    @EnumSource(value = Preset.class, names = {"TINY", "TINY_GQA", "TINY_UNTIED"})
    void jsonOfAnHfDirectory(Preset preset) throws IOException {
        SyntheticLlama.Spec spec = preset.spec();
        Path dir = synth(preset);
        CliTesting.Run r = ok("inspect", "--json", dir.toString());
        JsonNode j = r.json();
        assertTrue(j.isObject());
        assertEquals("hf-directory", j.path("format").asText());
        assertTrue(j.get("parameters").isIntegralNumber());
        assertEquals(parameters(spec), j.get("parameters").asLong());
        assertEquals(bytes(spec), j.get("bytes").asLong());
        assertTrue(j.get("metadata").isObject(), "metadata is an object");
        assertEquals("pt", j.get("metadata").path("format").asText());
        assertEquals(1, j.path("shards").asInt());
        assertEquals(spec.hidden(), j.path("config").path("hidden_size").asInt());
        assertEquals(spec.kvHeads(), j.path("config").path("num_key_value_heads").asInt());
        assertEquals(spec.tied(), j.path("config").path("tie_word_embeddings").asBoolean());
        assertTensors(SyntheticLlama.tensors(spec), j.get("tensors"));
        boolean hasLmHead = false;
        for (JsonNode t : j.get("tensors")) {
            hasLmHead |= t.get("name").asText().equals("lm_head.weight");
        }
        assertEquals(!spec.tied(), hasLmHead, "lm_head present exactly when untied");
        assertTrue(r.out().endsWith("\n"));
    }

    @Test
    void jsonOfASafetensorsFile() throws IOException {
        SyntheticLlama.Spec spec = Preset.TINY_GQA.spec();
        Path dir = synth(Preset.TINY_GQA);
        JsonNode j = ok("inspect", "--json", dir.resolve("model.safetensors").toString()).json();
        assertEquals("safetensors", j.path("format").asText());
        assertEquals(parameters(spec), j.get("parameters").asLong());
        assertEquals(bytes(spec), j.get("bytes").asLong());
        assertTrue(j.get("metadata").isObject());
        assertTrue(j.get("config").isNull(), "a bare safetensors file has no config");
        assertTensors(SyntheticLlama.tensors(spec), j.get("tensors"));
    }

    @ParameterizedTest
    @EnumSource(value = Preset.class, names = {"TINY", "TINY_GQA", "TINY_UNTIED"})
    void jsonOfAShardedDirectoryWrittenBySynth(Preset preset) throws IOException {
        SyntheticLlama.Spec spec = preset.spec();
        Path dir = tmp.resolve("sharded");
        String name = preset.name().toLowerCase(Locale.ROOT).replace('_', '-');
        CliTesting.Run s = ok("synth", "--preset", name, "--max-shard-size", "100kB", "-o", dir.toString());
        assertTrue(s.out().startsWith("wrote " + dir), s::toString);
        assertTrue(Files.isRegularFile(dir.resolve("model.safetensors.index.json")));

        JsonNode j = ok("inspect", "--json", dir.toString()).json();
        assertEquals("hf-directory", j.path("format").asText());
        int shards = j.path("shards").asInt();
        assertTrue(shards > 1, "expected several shards, got " + shards);
        long shardFiles = CliTesting.names(dir).stream().filter(n -> n.matches("model-\\d{5}-of-\\d{5}\\.safetensors")).count();
        assertEquals(shards, shardFiles);
        assertEquals(parameters(spec), j.get("parameters").asLong());
        assertEquals(bytes(spec), j.get("bytes").asLong());
        assertTrue(j.get("metadata").isObject());
        assertTensors(SyntheticLlama.tensors(spec), j.get("tensors"));
    }

    @Test
    void humanOutputHasTheTensorTableAndParameterCount() throws IOException {
        SyntheticLlama.Spec spec = Preset.TINY_UNTIED.spec();
        Path dir = synth(Preset.TINY_UNTIED);
        CliTesting.Run r = ok("inspect", dir.toString());
        String out = r.out();
        assertTrue(out.contains(String.format(Locale.ROOT, "%,d", parameters(spec))), () -> "parameter count missing\n" + out);
        assertTrue(Pattern.compile("(?m)^parameters\\s+" + Pattern.quote(String.format(Locale.ROOT, "%,d", parameters(spec))))
                .matcher(out).find(), () -> "no parameters row\n" + out);
        assertTrue(Pattern.compile("(?m)^format\\s+hf-directory$").matcher(out).find(), () -> "no format row\n" + out);
        assertTrue(Pattern.compile("(?m)^NAME\\s+DTYPE\\s+SHAPE\\s+SIZE\\s*$").matcher(out).find(), () -> "no table header\n" + out);
        List<String> rows = new ArrayList<>();
        for (TensorInfo t : SyntheticLlama.tensors(spec)) {
            Pattern row = Pattern.compile("(?m)^" + Pattern.quote(t.name()) + "\\s+F32\\s+" + Pattern.quote(t.shapeString()) + "\\s+\\S.*$");
            assertTrue(row.matcher(out).find(), () -> "no table row for " + t + "\n" + out);
            rows.add(t.name());
        }
        assertTrue(rows.contains("lm_head.weight"));
        assertFalse(out.trim().startsWith("{"), "human output is not JSON");
    }

    @Test
    void humanOutputOfAShardedDirectorySaysHowManyShards() throws IOException {
        Path dir = tmp.resolve("sharded");
        SyntheticLlama.write(dir, Preset.TINY.spec(), 100_000, Progress.NONE);
        String out = ok("inspect", dir.toString()).out();
        assertTrue(Pattern.compile("(?m)^format\\s+hf-directory \\(\\d+ shards\\)$").matcher(out).find(), out);
    }

    @Test
    void stories260K() throws IOException {
        Path bin = Stories260K.checkpoint();
        JsonNode j = ok("inspect", "--json", bin.toString()).json();
        assertEquals("llama2c", j.path("format").asText());
        assertEquals(260032, j.get("parameters").asLong());
        assertEquals(260032L * 4, j.get("bytes").asLong());
        assertTrue(j.get("metadata").isObject());
        JsonNode tensors = j.get("tensors");
        assertEquals(1 + 5 * 9 + 1, tensors.size());
        assertEquals("model.embed_tokens.weight", tensors.get(0).get("name").asText());
        assertEquals("[512,64]", tensors.get(0).get("shape").toString());
        List<String> names = new ArrayList<>();
        for (JsonNode t : tensors) {
            names.add(t.get("name").asText());
            assertEquals("F32", t.get("dtype").asText());
        }
        assertTrue(names.contains("model.layers.4.mlp.down_proj.weight"));
        assertTrue(names.contains("model.norm.weight"));
        assertFalse(names.contains("lm_head.weight"), "the classifier of stories260K is tied to the embedding");
        for (JsonNode t : tensors) {
            if (t.get("name").asText().equals("model.layers.0.self_attn.k_proj.weight")) {
                assertEquals("[32,64]", t.get("shape").toString(), "4 kv heads of 8 dims");
            }
            if (t.get("name").asText().equals("model.layers.0.mlp.gate_proj.weight")) {
                assertEquals("[172,64]", t.get("shape").toString());
            }
        }
        JsonNode config = j.get("config");
        assertEquals(64, config.path("hidden_size").asInt());
        assertEquals(5, config.path("num_hidden_layers").asInt());
        assertEquals(4, config.path("num_key_value_heads").asInt());
        assertEquals(512, config.path("vocab_size").asInt());
        assertTrue(config.path("tie_word_embeddings").asBoolean());
        List<String> files = new ArrayList<>();
        j.get("files").forEach(f -> files.add(f.asText()));
        assertTrue(files.contains("tokenizer.llama2c.bin"), "tokenizer found beside the checkpoint: " + files);

        String human = ok("inspect", bin.toString()).out();
        assertTrue(human.contains("260,032"), human);
        assertTrue(Pattern.compile("(?m)^format\\s+llama2c$").matcher(human).find(), human);
    }

    /** The family and its key hyper-parameters, or why there is none. */
    @Test
    void familiesAreNamedWithTheirHyperParameters() throws IOException {
        JsonNode gemma = ok("inspect", "--json", TestModels.dir("tiny-gemma2").toString()).json();
        assertEquals("gemma2", gemma.get("family").get("id").asText());
        assertEquals(16, gemma.get("family").get("sliding_window").asInt());
        assertEquals(24, gemma.get("family").get("head_dim").asInt());
        assertEquals(50.0, gemma.get("family").get("attention_softcap").asDouble());
        assertTrue(gemma.get("family_problem").isNull());
        String human = ok("inspect", TestModels.dir("tiny-falcon").toString()).out();
        assertTrue(human.contains("family      falcon: hidden 64, 3 layers, 4 heads x 16 (1 kv heads)"), human);
        assertTrue(human.contains("parallel attention and MLP"), human);
        String gpt2 = ok("inspect", TestModels.dir("tiny-gpt2").toString()).out();
        assertTrue(gpt2.contains("family      gpt2: hidden 64, 3 layers, 4 heads x 16, MLP 256 gelu_tanh"), gpt2);
        assertTrue(gpt2.contains("learned positions"), gpt2);

        Path bloom = tmp.resolve("bloom");
        SyntheticLlama.write(bloom, Preset.TINY.spec(), Long.MAX_VALUE, Progress.NONE);
        Files.writeString(bloom.resolve("config.json"), Files.readString(bloom.resolve("config.json"))
                .replace("\"llama\"", "\"bloom\""));
        JsonNode j = ok("inspect", "--json", bloom.toString()).json();
        assertTrue(j.get("family").isNull());
        assertTrue(j.get("family_problem").asText().contains("model_type 'bloom' is not supported (supported: llama,"),
                j.get("family_problem").asText());
        assertEquals(Preset.TINY.spec().layers() * 9 + 2, j.get("tensors").size(), "the tensors are shown all the same");
    }
}
