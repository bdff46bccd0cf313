package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static dev.arica.formats.testing.GgufBuilder.concat;
import static dev.arica.formats.testing.GgufBuilder.str;
import static dev.arica.formats.testing.GgufBuilder.u32;
import static dev.arica.formats.testing.GgufBuilder.u64;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaCheckpoint;
import dev.arica.formats.gguf.GgmlType;
import dev.arica.formats.gguf.GgufCheckpoint;
import dev.arica.formats.gguf.GgufTensor;
import dev.arica.formats.testing.GgufBuilder;
import dev.arica.formats.testing.Stories260K;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The commands on GGUF files: llama.cpp's stories260K (f32, Q8_0, Q4_0) inspected, converted, quantized with its
 * blocks kept, generating the reference ids; and malformed files refused in one line with exit 2.
 */
class GgufCommandsTest {

    @TempDir
    static Path tmp;

    @BeforeAll
    static void ort() {
        OrtRuntime.start(Path.of("target", "ort-native-cache").toAbsolutePath());
    }

    @Test
    void inspectShowsTheGgmlTypeAndGgufNameOfEveryTensor() throws Exception {
        Path q4 = Stories260K.gguf("q4_0");
        String text = ok("inspect", q4.toString()).out();
        assertTrue(text.contains("format      gguf"), text);
        assertTrue(text.contains("gguf        version 3, alignment 32, Q8_0 x 1, F32 x 11, Q4_0 x 31, F16 x 5"), text);
        assertTrue(text.contains("  tokenizer.ggml.tokens = [512 x string]"), text);
        assertTrue(text.matches("(?s).*\\nlm_head\\.weight +output\\.weight +Q8_0 +\\[512, 64] +34\\.8 kB\\n.*"), text);
        assertTrue(text.matches("(?s).*\\nmodel\\.layers\\.0\\.mlp\\.down_proj\\.weight +blk\\.0\\.ffn_down\\.weight +F16 .*"),
                text);
        JsonNode j = ok("inspect", q4.toString(), "--json").json();
        assertEquals("gguf", j.get("format").asText());
        assertEquals(3, j.get("gguf_version").asInt());
        try (GgufCheckpoint g = GgufCheckpoint.open(q4)) {
            assertEquals(g.file().tensors().stream().mapToLong(GgufTensor::bytes).sum(), j.get("bytes").asLong(),
                    "the bytes stored, not those of the float32 values");
        }
        assertEquals("llama", j.get("family").get("id").asText());
        assertEquals(List.of("tokenizer.json", "generation_config.json"), names(j.get("files")));
        Map<String, JsonNode> tensors = new java.util.HashMap<>();
        j.get("tensors").forEach(t -> tensors.put(t.get("name").asText(), t));
        JsonNode q = tensors.get("model.layers.3.self_attn.q_proj.weight");
        assertEquals("Q4_0", q.get("ggml_type").asText());
        assertEquals("blk.3.attn_q.weight", q.get("gguf_name").asText());
        assertEquals("F32", q.get("dtype").asText(), "read as float32 values");
        assertEquals(64 * 64 / 32 * 18, q.get("bytes").asLong());
        assertTrue(j.get("tokenizer_problem").isNull());
    }

    private static List<String> names(JsonNode array) {
        List<String> out = new ArrayList<>();
        array.forEach(n -> out.add(n.asText()));
        return out;
    }

    @Test
    void convertWritesTheHfCheckpointTheGgufStandsFor() throws Exception {
        Path out = tmp.resolve("hf-q8");
        ok("convert", Stories260K.gguf("q8_0").toString(), "-o", out.toString());
        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"),
                CliTesting.names(out));
        try (Checkpoint hf = Checkpoint.open(out); Checkpoint gguf = Checkpoint.open(Stories260K.gguf("q8_0"))) {
            assertEquals(gguf.tensors(), hf.tensors());
            for (TensorInfo t : gguf.tensors()) {
                assertArrayEquals(dev.arica.formats.TestSupport.bytesOf(gguf.tensor(t.name())),
                        dev.arica.formats.TestSupport.bytesOf(hf.tensor(t.name())), t.name());
            }
            assertEquals(gguf.config().orElseThrow(), hf.config().orElseThrow());
        }
    }

    @Test
    void quantizeKeepsTheQ8_0BlocksByteForByte() throws Exception {
        Path gguf = Stories260K.gguf("q8_0");
        Path kept = tmp.resolve("kept.arica");
        Path report = tmp.resolve("kept.json");
        ok("quantize", gguf.toString(), "-o", kept.toString(), "--no-digest-cache", "--report", report.toString());
        JsonNode r = CliTesting.JSON.readTree(report.toFile());
        assertEquals("as stored", r.get("scheme").asText());
        assertEquals(32, r.get("totals").get("quantized").asInt());
        Path withScheme = tmp.resolve("scheme.arica");
        ok("quantize", gguf.toString(), "-o", withScheme.toString(), "--scheme", "q8_0", "--quantize-embeddings",
                "--quantize-head", "--no-digest-cache");
        try (GgufCheckpoint g = GgufCheckpoint.open(gguf); AricaCheckpoint a = AricaCheckpoint.open(kept);
                AricaCheckpoint s = AricaCheckpoint.open(withScheme); Arena arena = Arena.ofConfined()) {
            Map<String, GgufTensor> raw = g.file().tensors().stream().collect(Collectors.toMap(GgufTensor::name,
                    Function.identity()));
            int compared = 0;
            for (TensorInfo t : g.tensors()) {
                GgufTensor stored = raw.get(g.ggufName(t.name()));
                if (stored.type() != GgmlType.Q8_0) {
                    assertTrue(a.quantizedStorage(t.name()).isEmpty(), t.name() + " stays float");
                    continue;
                }
                assertEquals("q8_0", a.quantizedStorage(t.name()).orElseThrow().layout().describe(), t.name());
                MemorySegment file = g.file().data(stored);
                MemorySegment ours = a.stored(t.name(), arena);
                MemorySegment scheme = s.stored(t.name(), arena);
                assertEquals(file.byteSize(), ours.byteSize(), t.name());
                assertEquals(-1, ours.mismatch(scheme), t.name() + ": --scheme q8_0 keeps the same blocks");
                if (t.name().contains("q_proj") || t.name().contains("k_proj")) {
                    // Whole rows moved to HF's order: the same blocks, row by row.
                    assertEquals(-1, g.stored(t.name(), arena).mismatch(ours), t.name());
                    assertTrue(sortedRows(file, stored.rowBytes()).equals(sortedRows(ours, stored.rowBytes())), t.name());
                } else {
                    assertEquals(-1, file.mismatch(ours), t.name() + ": the file's bytes, unchanged");
                }
                compared++;
            }
            assertEquals(32, compared);
        }
    }

    /** The rows of a segment as hex strings, sorted: equal when one holds the other's rows in another order. */
    private static List<String> sortedRows(MemorySegment s, long rowBytes) {
        List<String> rows = new ArrayList<>();
        for (long at = 0; at < s.byteSize(); at += rowBytes) {
            rows.add(java.util.HexFormat.of().formatHex(s.asSlice(at, rowBytes).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
        }
        rows.sort(null);
        return rows;
    }

    /**
     * arica's q8_0 and q4_0 quantizers, given the f32 file, write exactly the blocks llama.cpp's quantizer wrote
     * into the Q8_0 and Q4_0 files (their tensors in those types; the q4_0 file's head is Q8_0).
     */
    @Test
    void aricasQuantizersWriteTheBlocksOfLlamaCppsQuantizer() throws Exception {
        for (String scheme : List.of("q8_0", "q4_0")) {
            Path ours = tmp.resolve("ours-" + scheme + ".arica");
            ok("quantize", Stories260K.gguf("f32").toString(), "-o", ours.toString(), "--scheme", scheme,
                    "--quantize-embeddings", "--quantize-head", "--no-digest-cache");
            try (GgufCheckpoint g = GgufCheckpoint.open(Stories260K.gguf(scheme)); AricaCheckpoint a = AricaCheckpoint.open(ours);
                    Arena arena = Arena.ofConfined()) {
                int compared = 0;
                for (TensorInfo t : g.tensors()) {
                    if (g.ggmlType(t.name()).name().equalsIgnoreCase(scheme)) {
                        assertEquals(-1, g.stored(t.name(), arena).mismatch(a.stored(t.name(), arena)), scheme + " " + t.name());
                        compared++;
                    }
                }
                assertEquals(scheme.equals("q8_0") ? 32 : 31, compared);
            }
        }
    }

    @Test
    void quantizeWithoutASchemeNeedsStoredBlocks() throws Exception {
        Path out = tmp.resolve("f32.arica");
        assertBadInput(run("quantize", Stories260K.gguf("f32").toString(), "-o", out.toString(), "--no-digest-cache"),
                "is not a GPTQ checkpoint and stores no tensor in a layout arica keeps");
        assertNothingWritten(out);
    }

    @Test
    void theGgufFilesGenerateTheReferenceIds() throws Exception {
        Path cache = tmp.resolve("cache");
        Stories260K.Greedy ref = Stories260K.greedy().getFirst();
        for (String type : List.of("f32", "q8_0")) {
            int budget = ref.ids().length - ref.promptIds().length;
            CliTesting.Run r = run("generate", Stories260K.gguf(type).toString(), "--cache-dir", cache.toString(),
                    "--threads", "1", "--device", "cpu", "--prompt", ref.prompt(), "--temperature", "0",
                    "--max-new-tokens", Integer.toString(budget), "--json", "--accuracy-level", "0");
            assertEquals(ExitCode.OK, r.exit(), r::toString);
            JsonNode j = r.json();
            int[] ids = new int[j.get("ids").size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = j.get("ids").get(i).asInt();
            }
            if (type.equals("f32")) {
                assertArrayEquals(ref.ids(), ids, "f32: the reference ids");
            } else {
                assertArrayEquals(java.util.Arrays.copyOf(ref.ids(), 30), java.util.Arrays.copyOf(ids, 30),
                        "q8_0: the reference's first ids");
            }
        }
    }

    // Malformed files: one line on stderr, exit 2, nothing written, for inspect and convert alike.

    private static void refused(String name, byte[] bytes, String... mentions) throws IOException {
        Path file = tmp.resolve(name + ".gguf");
        Files.write(file, bytes);
        String line = assertBadInput(run("inspect", file.toString()), mentions);
        assertTrue(line.contains(file.toString()), line);
        Path out = tmp.resolve(name + "-out");
        assertBadInput(run("convert", file.toString(), "-o", out.toString()), mentions);
        assertNothingWritten(out);
    }

    @Test
    void lyingSizesAndOffsetsPastTheEndAreOneLine() throws Exception {
        refused("size", new GgufBuilder().f32Tensor("a", new long[] {1}, 1)
                .tensorAt("b", 0, new long[] {1L << 20, 1L << 20}, 32).bytes(), "tensor 'b'", "needs bytes 32 to");
        refused("offset", new GgufBuilder().f32Tensor("a", new long[] {1}, 1)
                .tensorAt("b", 0, new long[] {4}, 1L << 50).bytes(), "tensor 'b'", "of the data section, which has 4");
        refused("truncated", java.util.Arrays.copyOf(new GgufBuilder().f32Tensor("a", new long[] {8}, new float[8])
                .bytes(), 57), "the data section would start at byte 64");
    }

    @Test
    void unknownValueTypesAndAbsurdLengthsAreOneLine() throws Exception {
        refused("value-type", new GgufBuilder().raw("general.name", 42, u32(0)).bytes(), "unknown value type 42");
        refused("array-length", new GgufBuilder().raw("tokenizer.ggml.tokens", 9, concat(u32(8), u64(1L << 61)))
                .bytes(), "claims 2305843009213693952 string elements");
        refused("string-length", new GgufBuilder().raw("general.name", 8, u64(-2)).bytes(),
                "metadata 'general.name' claims 18446744073709551614 bytes");
        refused("key-length", new GgufBuilder().rawEntry(concat(u64(1L << 40), str("x"))).bytes(),
                "metadata key 0 claims 1099511627776 bytes");
        refused("counts", new GgufBuilder().counts(1L << 58, 1L << 58).bytes(), "claims 288230376151711744");
    }

    @Test
    void anUnreadableTypeIsRefusedWhenConvertedButInspected() throws Exception {
        Path file = tmp.resolve("iq.gguf");
        new GgufBuilder().tensor("blk.0.ffn_up.weight", GgmlType.IQ2_XXS.id(), new long[] {256, 2}, new byte[132])
                .write(file);
        String text = ok("inspect", file.toString()).out();
        assertTrue(text.contains("IQ2_XXS"), text);
        Path out = tmp.resolve("iq-out");
        assertBadInput(run("convert", file.toString(), "-o", out.toString()), "tensor 'blk.0.ffn_up.weight'",
                "GGML type IQ2_XXS, which arica does not read");
        assertNothingWritten(out);
        assertFalse(Files.exists(out));
    }
}
