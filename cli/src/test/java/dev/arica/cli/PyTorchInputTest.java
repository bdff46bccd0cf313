package dev.arica.cli;

import static dev.arica.cli.CliTesting.names;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.sha256;
import static dev.arica.cli.CliTesting.treeDigest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.cli.CliTesting.StRead;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.testing.TorchTwin;
import dev.arica.testdata.SyntheticLlama;
import dev.arica.testdata.SyntheticLlama.Preset;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * inspect and convert of PyTorch files (torch.save's zip and legacy formats, as {@link TorchTwin} writes them byte
 * for byte) give what their safetensors twins give.
 */
class PyTorchInputTest {

    @TempDir
    Path tmp;

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    /** The sample state dict as a PyTorch file named {@code name} in {@code layout} ("zip", "legacy"), and its twin. */
    private record Sample(TorchTwin twin, Path bin, Path safetensors) {}

    private Sample sample(String layout, String name) throws IOException {
        TorchTwin twin = TorchTwin.sample();
        Path bin = write(name, layout.equals("legacy") ? twin.torch.legacy() : twin.torch.zip("pytorch_model"));
        return new Sample(twin, bin, twin.safetensors.writeTo(tmp.resolve("twin.safetensors")));
    }

    @ParameterizedTest
    @ValueSource(strings = {"zip", "legacy"})
    void inspectShowsWhatItsTwinHolds(String layout) throws IOException {
        Sample f = sample(layout, "pytorch_model.bin");
        Path bin = f.bin();
        JsonNode j = ok("inspect", "--json", bin.toString()).json();
        JsonNode expected = ok("inspect", "--json", f.safetensors().toString()).json();
        assertEquals("pytorch", j.path("format").asText());
        assertEquals(bin.toString(), j.path("path").asText());
        assertEquals(expected.get("tensors"), j.get("tensors"));
        assertEquals(expected.get("parameters"), j.get("parameters"));
        assertEquals(expected.get("bytes"), j.get("bytes"));
        assertTrue(j.get("metadata").isObject() && j.get("metadata").isEmpty(), j::toString);

        String human = ok("inspect", bin.toString()).out();
        assertTrue(human.contains("pytorch"), human);
        assertTrue(human.matches("(?s).*\\nmodel\\.layers\\.0\\.self_attn\\.q_proj\\.bias +F32 +\\[4\\] .*"), human);
        assertTrue(human.contains("lm_head.weight"), human);
    }

    @ParameterizedTest
    @ValueSource(strings = {"zip", "legacy"})
    void convertWritesTheSafetensorsOfItsTwin(String layout) throws IOException {
        Sample f = sample(layout, "adapter_model.bin");
        Path out = tmp.resolve("from-bin.safetensors");
        Path ref = tmp.resolve("from-twin.safetensors");
        ok("convert", f.bin().toString(), "-o", out.toString());
        ok("convert", f.safetensors().toString(), "-o", ref.toString());
        assertEquals(sha256(ref), sha256(out), "byte for byte what its twin converts to");

        StRead read = StRead.of(out);
        Map<String, byte[]> contents = f.twin().safetensors.contents();
        assertEquals(List.copyOf(contents.keySet()), read.tensorNames());
        for (TensorInfo t : f.twin().safetensors.infos()) {
            assertEquals(t.dtype(), read.dtype(t.name()), t.name());
            assertArrayEquals(t.shape(), read.shape(t.name()), t.name());
            assertArrayEquals(contents.get(t.name()), read.byteArray(t.name()), t.name());
        }
    }

    @Test
    void convertCastsAndWritesDirectories() throws IOException {
        TorchTwin twin = TorchTwin.sample();
        Path bin = write("model.pt", twin.torch.zip("model"));
        Path st = twin.safetensors.writeTo(tmp.resolve("twin.safetensors"));
        ok("convert", bin.toString(), "-o", tmp.resolve("bin-dir").toString(), "--dtype", "bf16");
        ok("convert", st.toString(), "-o", tmp.resolve("twin-dir").toString(), "--dtype", "bf16");
        assertEquals(treeDigest(tmp.resolve("twin-dir")), treeDigest(tmp.resolve("bin-dir")));
        assertEquals(DType.BF16, StRead.of(tmp.resolve("bin-dir/model.safetensors")).dtype("model.embed_tokens.weight"));
        assertEquals(DType.I64, StRead.of(tmp.resolve("bin-dir/model.safetensors")).dtype("position_ids"));
    }

    /**
     * An HF directory whose weights are pytorch_model.bin (the synthetic Llama's tensors, re-saved as torch.save would)
     * inspects and converts as the same directory with model.safetensors.
     */
    @Test
    void hfDirectoryWithPytorchModelBin() throws IOException {
        Path synth = tmp.resolve("synth");
        SyntheticLlama.write(synth, Preset.TINY.spec(), Long.MAX_VALUE, Progress.NONE);
        Path hf = Files.createDirectory(tmp.resolve("hf-bin"));
        TorchTwin twin = new TorchTwin();
        try (Checkpoint c = Checkpoint.open(synth); Stream<Path> files = Files.list(synth)) {
            for (TensorInfo t : c.tensors()) {
                twin.tensor(t.name(), t.dtype(), t.shape(), dev.arica.formats.TestSupport.bytesOf(c.tensor(t.name())));
            }
            for (Path f : files.toList()) {
                if (!f.getFileName().toString().equals("model.safetensors")) {
                    Files.copy(f, hf.resolve(f.getFileName()));
                }
            }
        }
        Files.write(hf.resolve("pytorch_model.bin"), twin.torch.zip("pytorch_model"));

        JsonNode j = ok("inspect", "--json", hf.toString()).json();
        JsonNode expected = ok("inspect", "--json", synth.toString()).json();
        assertEquals("hf-directory", j.path("format").asText());
        assertEquals(expected.get("tensors"), j.get("tensors"));
        assertEquals(expected.get("family"), j.get("family"));
        assertTrue(j.get("family").isObject(), j::toString);

        ok("convert", hf.toString(), "-o", tmp.resolve("out-bin").toString());
        ok("convert", synth.toString(), "-o", tmp.resolve("out-synth").toString());
        assertEquals(treeDigest(tmp.resolve("out-synth")), treeDigest(tmp.resolve("out-bin")));
        assertTrue(names(tmp.resolve("out-bin")).contains("model.safetensors"));
    }
}
