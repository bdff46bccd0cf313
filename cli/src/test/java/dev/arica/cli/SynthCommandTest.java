package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNoTemporaries;
import static dev.arica.cli.CliTesting.names;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static dev.arica.cli.CliTesting.treeDigest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.testdata.SyntheticLlama;
import dev.arica.testdata.SyntheticLlama.Preset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SynthCommandTest {

    @TempDir
    Path tmp;

    @Test
    void writesThePresetAsAnHfDirectory() throws IOException {
        Path dir = tmp.resolve("tiny");
        CliTesting.Run r = ok("synth", "-o", dir.toString());
        assertEquals("wrote " + dir + ": tiny, 2 layers, 468 kB\n", r.out());
        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors"), names(dir));
        assertNoTemporaries(tmp);
        JsonNode j = ok("inspect", "--json", dir.toString()).json();
        List<TensorInfo> expected = SyntheticLlama.tensors(Preset.TINY.spec());
        assertEquals(expected.size(), j.get("tensors").size());
        assertEquals(expected.stream().mapToLong(TensorInfo::elements).sum(), j.get("parameters").asLong());
    }

    @Test
    void optionsOverrideThePreset() throws IOException {
        Path dir = tmp.resolve("custom");
        ok("synth", "--preset", "tiny-gqa", "--layers", "3", "--dtype", "bf16", "--seed", "7", "-o", dir.toString());
        SyntheticLlama.Spec spec = Preset.TINY_GQA.spec().withLayers(3).withDtype(DType.BF16).withSeed(7);
        JsonNode j = ok("inspect", "--json", dir.toString()).json();
        assertEquals(3, j.path("config").path("num_hidden_layers").asInt());
        assertEquals("bfloat16", j.path("config").path("torch_dtype").asText());
        List<TensorInfo> expected = SyntheticLlama.tensors(spec);
        assertEquals(expected.size(), j.get("tensors").size());
        for (JsonNode t : j.get("tensors")) {
            assertEquals("BF16", t.get("dtype").asText(), t.toString());
        }
        assertEquals(expected.stream().mapToLong(TensorInfo::byteSize).sum(), j.get("bytes").asLong());
    }

    @Test
    void deterministic() throws IOException {
        Path a = tmp.resolve("a");
        Path b = tmp.resolve("b");
        ok("synth", "--preset", "tiny", "-o", a.toString());
        ok("synth", "--preset", "tiny", "-o", b.toString());
        assertEquals(treeDigest(a), treeDigest(b));
        Path c = tmp.resolve("c");
        ok("synth", "--preset", "tiny", "--seed", "99", "-o", c.toString());
        assertNotEquals(treeDigest(a), treeDigest(c), "another seed, other weights");
    }

    /** synth used to delete a non-empty directory given as -o without asking. */
    @Test
    void existingNonEmptyDirectoryNeedsForce() throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("mine"));
        Files.writeString(dir.resolve("notes.txt"), "keep");
        String line = assertBadInput(run("synth", "-o", dir.toString()), dir.toString(), "--force");
        assertTrue(line.contains("not empty"), line);
        assertEquals(List.of("notes.txt"), names(dir));
        assertEquals("keep", Files.readString(dir.resolve("notes.txt")));
        assertNoTemporaries(tmp);

        ok("synth", "-o", dir.toString(), "--force");
        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors"), names(dir));
        assertNoTemporaries(tmp);
    }

    @Test
    void existingEmptyDirectoryIsFilled() throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("empty"));
        ok("synth", "-o", dir.toString());
        assertTrue(Files.isRegularFile(dir.resolve("model.safetensors")));
    }

    @Test
    void outputThatIsAFileIsRefused() throws IOException {
        Path file = tmp.resolve("file");
        Files.writeString(file, "x");
        assertBadInput(run("synth", "-o", file.toString(), "--force"), file.toString());
        assertEquals("x", Files.readString(file));
        assertNoTemporaries(tmp);
    }
}
