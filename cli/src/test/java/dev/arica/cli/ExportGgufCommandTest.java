package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.cli.CliTesting.StRead;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.QuantizedCheckpoint;
import dev.arica.formats.arica.AricaCheckpoint;
import dev.arica.formats.gguf.GgufTensorNames;
import dev.arica.formats.testing.GgufTestFile;
import dev.arica.formats.testing.Stories260K;
import dev.arica.formats.testing.TestModels;
import dev.arica.testdata.SyntheticLlama;
import dev.arica.testdata.SyntheticLlama.Preset;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExportGgufCommandTest {

    @TempDir
    Path tmp;

    private Path synth(Preset p, DType dtype) throws IOException {
        Path dir = tmp.resolve("in-" + p.name().toLowerCase() + "-" + dtype);
        SyntheticLlama.write(dir, p.spec().withDtype(dtype), Long.MAX_VALUE, Progress.NONE);
        return dir;
    }

    /**
     * The HF tensors back from a GGUF file, by an independent reading: names mapped back, q/k rows put back from GGML's
     * pair order (GGUF row h*d + 2i + t is HF row h*d + t*d/2 + i), 1-D F32 tensors cast back to the checkpoint's f16.
     */
    private static void assertRoundTrip(Path hf, Path gguf, DType dtype, int heads, int kvHeads, int headDim)
            throws IOException {
        StRead st = StRead.of(hf.resolve("model.safetensors"));
        GgufTestFile f = GgufTestFile.read(gguf);
        Set<String> seen = new HashSet<>();
        for (GgufTestFile.TensorInfo t : f.tensors().values()) {
            String name = GgufTensorNames.hfName(t.name()).orElseThrow();
            seen.add(name);
            assertArrayEquals(st.shape(name), t.shape(), name);
            ByteBuffer original = st.bytes(name);
            byte[] back = t.data();
            if (t.type() == 0 && dtype == DType.F16) {
                ByteBuffer in = ByteBuffer.wrap(back).order(ByteOrder.LITTLE_ENDIAN);
                ByteBuffer out = ByteBuffer.allocate(back.length / 2).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < back.length / 4; i++) {
                    out.putShort(Float.floatToFloat16(in.getFloat(4 * i)));
                }
                back = out.array();
            } else {
                assertEquals(dtype == DType.F32 ? 0 : 1, t.type(), name);
            }
            int groups = name.endsWith("q_proj.weight") ? heads : name.endsWith("k_proj.weight") ? kvHeads : 0;
            if (groups > 0) {
                int rowBytes = back.length / (groups * headDim);
                byte[] hfOrder = new byte[back.length];
                for (int h = 0; h < groups; h++) {
                    for (int i = 0; i < headDim / 2; i++) {
                        for (int p = 0; p < 2; p++) {
                            System.arraycopy(back, (h * headDim + 2 * i + p) * rowBytes, hfOrder,
                                    (h * headDim + p * headDim / 2 + i) * rowBytes, rowBytes);
                        }
                    }
                }
                back = hfOrder;
            }
            byte[] expected = new byte[original.remaining()];
            original.get(expected);
            assertArrayEquals(expected, back, name + ": bit-exact after the round trip");
        }
        assertEquals(Set.copyOf(st.tensorNames()), seen, "every tensor, no other");
    }

    @Test
    void hfToGgufToHfIsBitExact() throws IOException {
        for (DType dtype : List.of(DType.F32, DType.F16)) {
            for (Preset p : List.of(Preset.TINY_GQA, Preset.TINY)) {
                Path in = synth(p, dtype);
                Path out = tmp.resolve(p + "-" + dtype + ".gguf");
                String type = dtype == DType.F32 ? "f32" : "f16";
                CliTesting.Run r = ok("export-gguf", in.toString(), "-o", out.toString(), "--type", type);
                assertTrue(r.out().startsWith("wrote " + out + ": " + type + ", "), r.out());
                assertTrue(r.out().contains("tokenizer none"), r.out());
                SyntheticLlama.Spec s = p.spec();
                assertRoundTrip(in, out, dtype, s.heads(), s.kvHeads(), s.headDim());
                GgufTestFile f = GgufTestFile.read(out);
                assertEquals("none", f.get("tokenizer.ggml.model"));
                assertEquals((long) s.vocab(), f.get("llama.vocab_size"));
                assertEquals((long) s.kvHeads(), f.get("llama.attention.head_count_kv"));
                assertEquals(!s.tied(), f.tensors().containsKey("output.weight"), "a tied head is token_embd");
            }
        }
    }

    @Test
    void hfToGgufToHfThroughTheReaderIsBitExact() throws IOException {
        for (DType dtype : List.of(DType.F32, DType.F16)) {
            for (Preset p : List.of(Preset.TINY_GQA, Preset.TINY)) {
                Path in = synth(p, dtype);
                Path gguf = tmp.resolve("r-" + p + "-" + dtype + ".gguf");
                Path back = tmp.resolve("back-" + p + "-" + dtype);
                String type = dtype == DType.F32 ? "f32" : "f16";
                ok("export-gguf", in.toString(), "-o", gguf.toString(), "--type", type);
                // The 1-D tensors are F32 in GGUF: --dtype f16 narrows them back, exactly.
                ok("convert", gguf.toString(), "-o", back.toString(), "--dtype", type);
                StRead original = StRead.of(in.resolve("model.safetensors"));
                StRead read = StRead.of(back.resolve("model.safetensors"));
                assertEquals(Set.copyOf(original.tensorNames()), Set.copyOf(read.tensorNames()), p + " " + dtype);
                for (String name : original.tensorNames()) {
                    assertEquals(original.dtype(name), read.dtype(name), name);
                    assertArrayEquals(original.shape(name), read.shape(name), name);
                    assertEquals(original.bytes(name), read.bytes(name), p + " " + dtype + " " + name + ": bit-exact");
                }
            }
        }
    }

    @Test
    void llamaCppsQuantizedFilesComeBackBlockForBlock() throws IOException {
        for (String type : List.of("q8_0", "q4_0")) {
            Path in = Stories260K.dir().resolve("gguf/stories260K-" + type + ".gguf");
            Path out = tmp.resolve("again-" + type + ".gguf");
            CliTesting.Run r = ok("export-gguf", in.toString(), "-o", out.toString());
            assertTrue(r.out().startsWith("wrote " + out + ": " + type + ", 48 tensors"), r.out());
            GgufTestFile a = GgufTestFile.read(in);
            GgufTestFile b = GgufTestFile.read(out);
            assertEquals(a.tensors().keySet(), b.tensors().keySet());
            for (GgufTestFile.TensorInfo t : a.tensors().values()) {
                assertEquals(t.type(), b.tensor(t.name()).type(), type + " " + t.name());
                assertArrayEquals(t.data(), b.tensor(t.name()).data(), type + " " + t.name());
            }
        }
    }

    @Test
    void defaultsToF16AndReportsFallbacks() throws IOException {
        Path out = tmp.resolve("s.gguf");
        CliTesting.Run r = ok("export-gguf", Stories260K.checkpoint().toString(), "-o", out.toString());
        assertTrue(r.out().startsWith("wrote " + out + ": f16, 47 tensors (36 f16, 11 f32), "), r.out());
        assertTrue(r.out().contains("tokenizer llama"), r.out());
        Path q4 = tmp.resolve("q4.gguf");
        CliTesting.Run q = ok("export-gguf", Stories260K.checkpoint().toString(), "-o", q4.toString(), "--type", "q4_0",
                "--threads", "1");
        assertTrue(q.out().contains("(1 q8_0, 11 f32, 30 q4_0, 5 f16)"), q.out());
        assertTrue(q.out().contains("\n  f16: rows of 172 values are not whole blocks of 32: F16, llama.cpp's fallback: "
                + "blk.0.ffn_down.weight and 4 more\n"), q.out());
        assertTrue(q.out().contains("\n  q8_0: token embedding tied to the head"), q.out());
    }

    @Test
    void aricaFilesKeepTheirBlocksAndRefuseRequantization() throws IOException {
        Path arica = tmp.resolve("s.arica");
        ok("quantize", Stories260K.checkpoint().toString(), "-o", arica.toString(), "--scheme", "q4_0");
        Path out = tmp.resolve("a.gguf");
        CliTesting.Run r = ok("export-gguf", arica.toString(), "-o", out.toString());
        assertTrue(r.out().startsWith("wrote " + out + ": q4_0, "), r.out());
        Path again = tmp.resolve("b.gguf");
        assertBadInput(run("export-gguf", arica.toString(), "-o", again.toString(), "--type", "q8_0"),
                "is stored q4_0", "quantize it twice");
        assertNothingWritten(again);
        assertBadInput(run("export-gguf", arica.toString(), "-o", again.toString(), "--tokenizer",
                Stories260K.tokenizer().toString()), "--tokenizer does not apply");
        assertNothingWritten(again);
    }

    /**
     * A mixed file (q4_0 with q8_0 keys and values) keeps each tensor's blocks when no type is asked for: the GGUF holds
     * them byte for byte and runs as the .arica file does; asking for one type still refuses to requantize.
     */
    @Test
    void mixedAricaFilesKeepEachTensorsOwnBlocks() throws IOException {
        Path arica = tmp.resolve("mixed.arica");
        ok("quantize", Stories260K.checkpoint().toString(), "-o", arica.toString(), "--scheme", "q4_0", "--tensor-scheme",
                "(k|v)_proj=q8_0");
        Path out = tmp.resolve("mixed.gguf");
        CliTesting.Run r = ok("export-gguf", arica.toString(), "-o", out.toString());
        assertTrue(r.out().startsWith("wrote " + out + ": q4_0, "), r.out());
        assertTrue(r.out().contains("\n  q8_0: as stored: the file's own type for this tensor: blk.0.attn_k.weight and 9 more\n"),
                r.out());
        try (AricaCheckpoint qa = AricaCheckpoint.open(arica); Checkpoint g = Checkpoint.open(out)) {
            QuantizedCheckpoint qg = (QuantizedCheckpoint) g;
            // The GGUF reader gives the tensors their HF names back.
            for (String name : List.of("model.layers.3.self_attn.v_proj.weight", "model.layers.3.self_attn.k_proj.weight",
                    "model.layers.3.self_attn.q_proj.weight")) {
                assertEquals(qa.quantizedStorage(name).orElseThrow().layout(), qg.quantizedStorage(name).orElseThrow()
                        .layout(), name);
            }
            try (Arena arena = Arena.ofConfined()) {
                // v rows are not permuted for rotary embeddings, so the stored blocks are the same bytes.
                String v = "model.layers.3.self_attn.v_proj.weight";
                assertEquals(-1, qa.stored(v, arena).mismatch(qg.stored(v, arena)));
            }
        }
        assertEquals(greedy(arica), greedy(out), "the same blocks give the same continuation");
        Path again = tmp.resolve("again.gguf");
        assertBadInput(run("export-gguf", arica.toString(), "-o", again.toString(), "--type", "q4_0"),
                "is stored q8_0", "quantize it twice");
        assertNothingWritten(again);
    }

    /** 24 greedy tokens of {@code model} after a fixed prompt, as generate prints them (its export note aside). */
    private String greedy(Path model) {
        CliTesting.Run r = run("generate", model.toString(), "--ids=1,403,407,261", "--max-new-tokens", "24", "--cache-dir",
                tmp.resolve("cache").toString(), "--device", "cpu");
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        return r.out();
    }

    @Test
    void badInputIsOneLine() throws IOException {
        Path out = tmp.resolve("x.gguf");
        assertBadInput(run("export-gguf", TestModels.dir("tiny-gemma2").toString(), "-o", out.toString()),
                "gemma2", "llama and mistral");
        assertBadInput(run("export-gguf", Stories260K.checkpoint().toString(), "-o", out.toString(), "--type", "q5_k"),
                "--type");
        assertBadInput(run("export-gguf", Stories260K.checkpoint().toString(), "-o", out.toString(), "--threads", "0"),
                "--threads");
        assertBadInput(run("export-gguf", tmp.resolve("missing").toString(), "-o", out.toString()), "missing");
        assertNothingWritten(out);
        Path existing = tmp.resolve("old.gguf");
        Files.writeString(existing, "old");
        ok("export-gguf", Stories260K.checkpoint().toString(), "-o", existing.toString(), "--type", "f32");
        assertFalse(Files.readString(existing, java.nio.charset.StandardCharsets.ISO_8859_1).equals("old"), "replaced");
    }
}
