package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.testdata.SyntheticLlama;
import dev.arica.testdata.SyntheticLlama.Preset;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the exporter refuses, with one-line messages naming the file, and what it leaves behind: nothing. */
class ExportRefusalTest {

    @TempDir
    Path tmp;

    private Path hf;

    @BeforeEach
    void model() throws Exception {
        hf = tmp.resolve("hf");
        SyntheticLlama.write(hf, Preset.TINY.spec(), Long.MAX_VALUE, Progress.NONE);
    }

    /** Edits config.json, exports, and returns the refusal, after checking nothing was written. */
    private FormatException refusedWithConfig(Consumer<ObjectNode> edit) throws Exception {
        Path cfgFile = hf.resolve("config.json");
        ObjectNode cfg = Json.readObjectFile(cfgFile);
        edit.accept(cfg);
        Files.writeString(cfgFile, Json.MAPPER.writeValueAsString(cfg));
        Path out = tmp.resolve("out");
        FormatException e;
        try (Checkpoint c = Checkpoint.open(hf)) {
            e = assertThrows(FormatException.class,
                    () -> OnnxExporter.export(c, out, OnnxExporter.Options.defaults(), Progress.NONE));
        }
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertFalse(Files.exists(out), "nothing written");
        assertNoTemporaries();
        return e;
    }

    private void assertNoTemporaries() throws Exception {
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.contains(AtomicOutput.TEMP_MARK)).toList());
        }
    }

    @Test
    void configurationsTheGraphWouldGetWrong() throws Exception {
        Path cfg = hf.resolve("config.json");
        FormatException e = refusedWithConfig(c -> c.put("model_type", "bloom"));
        assertEquals(cfg, e.file());
        assertTrue(e.getMessage().endsWith("model_type 'bloom' is not supported by ONNX export (supported: llama, mistral, "
                + "gemma2, gpt2, falcon, aricate, bert, roberta)"), e.getMessage());
        // A supported family whose tensors are another's: the first tensor the family needs is named.
        FormatException gpt2 = refusedWithConfig(c -> c.put("model_type", "gpt2"));
        assertEquals("wte.weight", gpt2.tensor());
        assertTrue(gpt2.getMessage().contains("is missing; a gpt2 model with this config.json needs it (embedding)"),
                gpt2.getMessage());
        assertTrue(refusedWithConfig(c -> c.put("model_type", "llama").putObject("rope_scaling").put("type", "linear"))
                .getMessage().contains("rope_scaling"));
    }

    @Test
    void missingOrInconsistentFields() throws Exception {
        assertTrue(refusedWithConfig(c -> c.remove("hidden_size")).getMessage().endsWith("hidden_size is missing"));
        assertTrue(refusedWithConfig(c -> c.put("hidden_size", 64).put("num_attention_heads", -4)).getMessage()
                .contains("num_attention_heads is -4, not a positive integer"));
        assertTrue(refusedWithConfig(c -> c.put("num_attention_heads", 4).put("num_key_value_heads", 3)).getMessage()
                .contains("not a multiple of num_key_value_heads 3"));
        assertTrue(refusedWithConfig(c -> c.put("num_key_value_heads", 4).put("attention_bias", true)).getMessage()
                .contains("attention_bias"));
        assertTrue(refusedWithConfig(c -> c.put("attention_bias", false).put("hidden_act", "gelu")).getMessage()
                .contains("hidden_act 'gelu'"));
    }

    @Test
    void tensorsThatDoNotFitTheConfiguration() throws Exception {
        FormatException e = refusedWithConfig(c -> c.put("intermediate_size", 100));
        assertEquals("model.layers.0.mlp.gate_proj.weight", e.tensor());
        assertTrue(e.getMessage().contains("has shape [176, 64] but config.json implies [100, 64]"), e.getMessage());
        FormatException untied = refusedWithConfig(c -> c.put("intermediate_size", 176).put("tie_word_embeddings", false));
        assertEquals("lm_head.weight", untied.tensor());
        assertTrue(untied.getMessage().contains("is missing"), untied.getMessage());
    }

    @Test
    void noConfigAtAll() throws Exception {
        Path st = tmp.resolve("model.safetensors");
        Files.copy(hf.resolve("model.safetensors"), st);
        try (Checkpoint c = Checkpoint.open(st)) {
            FormatException e = assertThrows(FormatException.class,
                    () -> OnnxExporter.export(c, tmp.resolve("out"), OnnxExporter.Options.defaults(), Progress.NONE));
            assertEquals(st, e.file());
            assertTrue(e.getMessage().contains("has no config.json"), e.getMessage());
        }
    }

    @Test
    void outputsThatWouldDestroyTheInputOrAnotherDirectory() throws Exception {
        try (Checkpoint c = Checkpoint.open(hf)) {
            OnnxExporter.Options replace = OnnxExporter.Options.defaults().withReplace(true);
            assertThrows(IllegalArgumentException.class, () -> OnnxExporter.export(c, hf, replace, Progress.NONE));
            assertThrows(IllegalArgumentException.class, () -> OnnxExporter.export(c, tmp, replace, Progress.NONE));
            assertTrue(Files.isRegularFile(hf.resolve("model.safetensors")));

            Path busy = Files.createDirectories(tmp.resolve("busy"));
            Files.writeString(busy.resolve("keep.txt"), "mine");
            assertThrows(DirectoryNotEmptyException.class,
                    () -> OnnxExporter.export(c, busy, OnnxExporter.Options.defaults(), Progress.NONE));
            assertEquals("mine", Files.readString(busy.resolve("keep.txt")));
            OnnxExporter.export(c, busy, replace, Progress.NONE);
            assertFalse(Files.exists(busy.resolve("keep.txt")), "--force replaces the directory");
            assertTrue(Files.isRegularFile(busy.resolve("model.onnx")));
        }
        assertNoTemporaries();
        assertThrows(IllegalArgumentException.class, () -> OnnxExporter.Options.defaults().withWeightType(DType.BF16));
    }
}
