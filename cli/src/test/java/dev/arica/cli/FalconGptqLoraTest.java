package dev.arica.cli;

import static dev.arica.cli.CliTesting.ok;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.testing.ReferenceModel;
import dev.arica.formats.testing.TorchSave;
import dev.arica.runtime.ort.OrtRuntime;
import dev.arica.testdata.SyntheticAdapter;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Falcon release path: a GPTQ 4-bit base and a LoRA adapter saved as falcontune saves it (adapter_model.bin),
 * applied three ways that must agree: as a branch beside the 4-bit weights kept as stored, merged into the GPTQ
 * model's exact float weights, and merged into the .arica file (requantized, so only close).
 */
class FalconGptqLoraTest {

    @TempDir
    static Path tmp;

    static ReferenceRuns runs;
    static final ReferenceModel GPTQ = new ReferenceModel("tiny-falcon-gptq");
    static Path adapterBin;
    static Path adapterSafetensors;
    static Path stored;

    @BeforeAll
    static void setUp() throws IOException {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
        runs = new ReferenceRuns(tmp, tmp.resolve("cache"));
        adapterSafetensors = tmp.resolve("adapter-safetensors");
        try (Checkpoint base = Checkpoint.open(GPTQ.dir())) {
            SyntheticAdapter.write(base, adapterSafetensors, 4, 8, List.of("query_key_value", "dense", "dense_h_to_4h",
                    "dense_4h_to_h"), 0.05, 11);
        }
        // The same adapter as torch.save writes it (falcontune's adapter_model.bin).
        adapterBin = tmp.resolve("adapter-bin");
        Files.createDirectories(adapterBin);
        Files.copy(adapterSafetensors.resolve("adapter_config.json"), adapterBin.resolve("adapter_config.json"));
        TorchSave torch = new TorchSave();
        try (Checkpoint w = Checkpoint.open(adapterSafetensors.resolve("adapter_model.safetensors"))) {
            for (TensorInfo t : w.tensors()) {
                byte[] bytes = w.tensor(t.name()).parts().getFirst().toArray(ValueLayout.JAVA_BYTE);
                torch.tensor(t.name(), TorchSave.StorageType.FLOAT, bytes, t.shape());
            }
        }
        Files.write(adapterBin.resolve("adapter_model.bin"), torch.zip("adapter_model"));
        stored = tmp.resolve("falcon-gptq.arica");
        ok("quantize", GPTQ.dir().toString(), "-o", stored.toString(), "--no-digest-cache");
    }

    static float[][] forward(Path model, String... extra) throws IOException {
        Path npy = tmp.resolve(model.getFileName() + "-" + extra.length + "-" + System.nanoTime() + ".npy");
        List<String> args = new java.util.ArrayList<>(List.of("--ids", ReferenceRuns.list(GPTQ.greedyIds()), "-o",
                npy.toString(), "--accuracy-level", "0"));
        args.addAll(List.of(extra));
        runs.run("forward", model, args.toArray(String[]::new));
        return ForwardCommandTest.Npy.read(npy).values();
    }

    static double largest(float[][] a, float[][] b) {
        double worst = 0;
        for (int t = 0; t < a.length; t++) {
            for (int v = 0; v < a[t].length; v++) {
                worst = Math.max(worst, Math.abs(a[t][v] - b[t][v]));
            }
        }
        return worst;
    }

    @Test
    void theAdapterAppliesAlikeAsABranchOnTheStoredBitsAndMergedIntoTheExactFloats() throws IOException {
        Path mergedFloats = tmp.resolve("merged-floats");
        CliTesting.Run r = ok("merge-lora", GPTQ.dir().toString(), adapterBin.toString(), "-o", mergedFloats.toString());
        assertTrue(r.out().contains("12 merged"), r.out());
        float[][] merged = forward(mergedFloats);
        float[][] branch = forward(stored, "--adapter", adapterBin.toString());
        float[][] base = forward(stored);
        // Measured: 3e-6 (the same arithmetic in another order); the adapter itself moves the logits by about 1.
        assertTrue(largest(merged, branch) <= 1e-4, "branch on the 4-bit file vs merged floats: " + largest(merged, branch));
        assertTrue(largest(merged, base) > 1e-2, "the adapter changes the outputs: " + largest(merged, base));
        assertArrayEquals(runs.greedy(GPTQ, mergedFloats), runs.greedy(GPTQ, stored, "--adapter", adapterBin.toString(),
                "--accuracy-level", "0"));
    }

    @Test
    void aBinAdapterMergesExactlyAsItsSafetensorsTwin() throws IOException {
        Path fromBin = tmp.resolve("from-bin");
        Path fromSafetensors = tmp.resolve("from-safetensors");
        ok("merge-lora", GPTQ.dir().toString(), adapterBin.toString(), "-o", fromBin.toString());
        ok("merge-lora", GPTQ.dir().toString(), adapterSafetensors.toString(), "-o", fromSafetensors.toString());
        CliTesting.StRead a = CliTesting.StRead.of(fromSafetensors.resolve("model.safetensors"));
        CliTesting.StRead b = CliTesting.StRead.of(fromBin.resolve("model.safetensors"));
        assertEquals(a.tensorNames(), b.tensorNames());
        for (String name : a.tensorNames()) {
            assertArrayEquals(a.byteArray(name), b.byteArray(name), name);
        }
    }

    @Test
    void mergedIntoTheStoredFileTheAdapterIsRequantizedAndStaysClose() throws IOException {
        Path requantized = tmp.resolve("falcon-gptq-merged.arica");
        CliTesting.Run r = ok("merge-lora", stored.toString(), adapterBin.toString(), "-o", requantized.toString());
        assertTrue(r.out().contains("12 weights merged"), r.out());
        ok("verify", requantized.toString());
        float[][] exact = forward(stored, "--adapter", adapterBin.toString());
        float[][] requant = forward(requantized);
        double d = largest(exact, requant);
        // Requantizing the merged weights (int4 g32) costs these random-weight logits less than quantizing the float
        // model to 4 bits did in the first place (measured 3.6 against 11.4).
        double quantizing = largest(new ReferenceModel("tiny-falcon").logits(384), GPTQ.logits(384));
        assertTrue(d > 0 && d < quantizing, "requantized vs exact branch: " + d + ", 4-bit quantization: " + quantizing);
        assertEquals(GPTQ.greedyIds().length, runs.greedy(GPTQ, requantized, "--accuracy-level", "0").length);
    }
}
