package dev.arica.cli;

import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.arica.AricaCheckpoint;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.testing.Stories260K;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GGUF both ways through the command line: an .arica file's q8_0/q4_0 blocks go into a GGUF and come back into an .arica
 * file byte for byte; stories260K exported by arica as an f32 GGUF, read back and run, gives the reference's greedy ids.
 */
class GgufRoundTripCommandTest {
    @TempDir
    static Path tmp;

    @BeforeAll
    static void ort() {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
    }

    @Test
    void aricaToGgufToAricaKeepsEveryBlock() throws IOException {
        for (String scheme : new String[] {"q8_0", "q4_0"}) {
            Path first = tmp.resolve("s-" + scheme + ".arica");
            Path gguf = tmp.resolve("s-" + scheme + ".gguf");
            Path back = tmp.resolve("back-" + scheme + ".arica");
            succeeds("quantize", Stories260K.checkpoint().toString(), "-o", first.toString(), "--scheme", scheme);
            succeeds("export-gguf", first.toString(), "-o", gguf.toString());
            succeeds("quantize", gguf.toString(), "-o", back.toString());
            int compared = 0;
            try (AricaCheckpoint a = AricaCheckpoint.open(first); AricaCheckpoint b = AricaCheckpoint.open(back);
                    Arena arena = Arena.ofConfined()) {
                for (var t : a.tensors()) {
                    Optional<Storage.Quantized> q = a.quantizedStorage(t.name());
                    // Rows that are not whole blocks (ffn_down's 172) go to GGUF as F16, llama.cpp's fallback.
                    if (q.isEmpty() || t.shape()[1] % q.get().layout().groupSize() != 0) {
                        continue;
                    }
                    assertEquals(q.get().layout(), b.quantizedStorage(t.name()).orElseThrow().layout(), t.name());
                    MemorySegment x = a.stored(t.name(), arena), y = b.stored(t.name(), arena);
                    assertEquals(-1L, x.mismatch(y), scheme + " " + t.name() + ": the blocks differ");
                    compared++;
                }
            }
            assertTrue(compared >= 30, scheme + ": " + compared + " tensors compared");
        }
    }

    @Test
    void stories260KExportedAsF32GgufGivesTheReferenceIds() throws IOException {
        Path gguf = tmp.resolve("stories260K-f32.gguf");
        succeeds("export-gguf", Stories260K.checkpoint().toString(), "-o", gguf.toString(), "--type", "f32");
        for (Stories260K.Greedy ref : Stories260K.greedy()) {
            // The GGUF says EOS is 2; the stories end with BOS (1), which then comes as a token like the reference's.
            JsonNode j = succeeds("generate", gguf.toString(), "--prompt", ref.prompt(), "--max-new-tokens",
                    Integer.toString(ref.ids().length - ref.promptIds().length), "--json", "--device", "cpu", "--threads", "1",
                    "--cache-dir", tmp.resolve("cache").toString()).json();
            int[] got = new int[j.get("ids").size()];
            for (int i = 0; i < got.length; i++) {
                got[i] = j.get("ids").get(i).asInt();
            }
            assertArrayEquals(ref.ids(), got, "ids after '" + ref.prompt() + "'");
        }
    }

    private static CliTesting.Run succeeds(String... args) {
        CliTesting.Run r = run(args);
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        return r;
    }
}
