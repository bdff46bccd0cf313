package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNoTemporaries;
import static dev.arica.cli.CliTesting.names;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.cli.CliTesting.St;
import dev.arica.cli.CliTesting.StRead;
import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.testing.Stories260K;
import dev.arica.testdata.SyntheticLlama;
import dev.arica.testdata.SyntheticLlama.Preset;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConvertCommandTest {

    @TempDir
    Path tmp;

    private Path synth(Preset p) throws IOException {
        Path dir = tmp.resolve("in-" + p.name().toLowerCase());
        SyntheticLlama.write(dir, p.spec(), Long.MAX_VALUE, Progress.NONE);
        return dir;
    }

    /** Every element of {@code out} (f16) is Float.floatToFloat16 of the element of {@code src} (f32). */
    private static void assertF16Of(String name, ByteBuffer src, ByteBuffer out) {
        assertEquals(src.remaining() / 2, out.remaining(), name + ": f16 is half the bytes of f32");
        int n = src.remaining() / 4;
        for (int i = 0; i < n; i++) {
            float f = src.getFloat(i * 4);
            short expected = Float.floatToFloat16(f);
            short actual = out.getShort(i * 2);
            if (expected != actual) {
                throw new AssertionError(name + "[" + i + "]: " + f + " should be f16 0x" + Integer.toHexString(expected & 0xffff)
                        + ", is 0x" + Integer.toHexString(actual & 0xffff));
            }
        }
    }

    private static final Pattern SUMMARY = Pattern.compile("wrote (.+): (\\d+) tensors, [0-9.]+ [kMG]?B(, (\\d+) shards?)?\n");

    @Test
    void hfDirectoryToSafetensorsCastToF16() throws IOException {
        SyntheticLlama.Spec spec = Preset.TINY_UNTIED.spec();
        Path in = synth(Preset.TINY_UNTIED);
        Path outDir = Files.createDirectory(tmp.resolve("out"));
        Path out = outDir.resolve("model-f16.safetensors");

        CliTesting.Run r = ok("convert", in.toString(), "-o", out.toString(), "--dtype", "f16");
        var m = SUMMARY.matcher(r.out());
        assertTrue(m.matches(), () -> "summary line\n" + r);
        assertTrue(m.group(1).endsWith("model-f16.safetensors"), r::toString);
        assertEquals(SyntheticLlama.tensors(spec).size(), Integer.parseInt(m.group(2)));
        assertEquals(null, m.group(3), "a single file has no shard count");
        assertEquals(List.of("model-f16.safetensors"), names(outDir), "only the output, no temporaries");

        StRead src = StRead.of(in.resolve("model.safetensors"));
        StRead dst = StRead.of(out);
        List<TensorInfo> expected = SyntheticLlama.tensors(spec);
        assertEquals(expected.stream().map(TensorInfo::name).sorted().toList(), dst.tensorNames().stream().sorted().toList());
        assertEquals("pt", dst.header().path("__metadata__").path("format").asText());
        long total = 0;
        for (TensorInfo t : expected) {
            assertEquals(DType.F16, dst.dtype(t.name()), t.name());
            assertArrayEquals(t.shape(), dst.shape(t.name()), t.name());
            assertF16Of(t.name(), src.bytes(t.name()), dst.bytes(t.name()));
            total += t.elements() * 2;
        }
        assertEquals(total, dst.dataBytes());

        // The output reads back through the CLI too.
        JsonNode j = ok("inspect", "--json", out.toString()).json();
        assertEquals(total, j.get("bytes").asLong());
    }

    @Test
    void convertWithoutDtypeKeepsTheBytes() throws IOException {
        Path in = synth(Preset.TINY);
        Path out = tmp.resolve("same.safetensors");
        ok("convert", in.toString(), "-o", out.toString());
        StRead src = StRead.of(in.resolve("model.safetensors"));
        StRead dst = StRead.of(out);
        for (String n : src.tensorNames()) {
            assertEquals(DType.F32, dst.dtype(n));
            assertArrayEquals(src.byteArray(n), dst.byteArray(n), n);
        }
    }

    @Test
    void hfDirectoryToShardedHfDirectory() throws IOException {
        SyntheticLlama.Spec spec = Preset.TINY_GQA.spec();
        Path in = synth(Preset.TINY_GQA);
        // Auxiliary files of any content travel unchanged (bytes that are not UTF-8, CRLF, no final newline).
        byte[] tokenizer = {'{', '"', 'v', '"', ':', (byte) 0xff, (byte) 0xfe, 0, '\r', '\n', '}'};
        byte[] special = "{\"bos_token\": \"<s>\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Files.write(in.resolve("tokenizer.json"), tokenizer);
        Files.write(in.resolve("special_tokens_map.json"), special);
        byte[] generation = Files.readAllBytes(in.resolve("generation_config.json"));
        ObjectNode srcConfig = (ObjectNode) CliTesting.JSON.readTree(in.resolve("config.json").toFile());

        Path out = tmp.resolve("out-dir");
        long max = 60_000;
        CliTesting.Run r = ok("convert", in.toString(), "-o", out.toString(), "--dtype", "f16", "--max-shard-size", "60kB");
        var m = SUMMARY.matcher(r.out());
        assertTrue(m.matches(), () -> "summary line\n" + r);
        int shards = Integer.parseInt(m.group(4));
        assertTrue(shards > 1, r::toString);
        assertNoTemporaries(tmp);

        List<String> expectedNames = new ArrayList<>(List.of("config.json", "generation_config.json",
                "model.safetensors.index.json", "special_tokens_map.json", "tokenizer.json"));
        for (int i = 1; i <= shards; i++) {
            expectedNames.add(String.format("model-%05d-of-%05d.safetensors", i, shards));
        }
        assertEquals(expectedNames.stream().sorted().toList(), names(out));

        assertArrayEquals(tokenizer, Files.readAllBytes(out.resolve("tokenizer.json")));
        assertArrayEquals(special, Files.readAllBytes(out.resolve("special_tokens_map.json")));
        assertArrayEquals(generation, Files.readAllBytes(out.resolve("generation_config.json")));

        ObjectNode config = (ObjectNode) CliTesting.JSON.readTree(out.resolve("config.json").toFile());
        assertEquals("float16", config.path("torch_dtype").asText());
        ObjectNode rest = config.deepCopy();
        rest.remove("torch_dtype");
        ObjectNode srcRest = srcConfig.deepCopy();
        srcRest.remove("torch_dtype");
        assertEquals(srcRest, rest, "config.json is otherwise unchanged");

        JsonNode index = CliTesting.JSON.readTree(out.resolve("model.safetensors.index.json").toFile());
        JsonNode weightMap = index.get("weight_map");
        List<TensorInfo> expected = SyntheticLlama.tensors(spec);
        assertEquals(expected.size(), weightMap.size());
        long total = expected.stream().mapToLong(TensorInfo::elements).sum() * 2;
        assertEquals(total, index.path("metadata").path("total_size").asLong());

        StRead src = StRead.of(in.resolve("model.safetensors"));
        Map<String, StRead> opened = new HashMap<>();
        for (TensorInfo t : expected) {
            String shard = weightMap.path(t.name()).asText();
            assertTrue(Files.isRegularFile(out.resolve(shard)), t.name() + " -> " + shard);
            StRead dst = opened.computeIfAbsent(shard, s -> {
                try {
                    return StRead.of(out.resolve(s));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            assertEquals(DType.F16, dst.dtype(t.name()));
            assertArrayEquals(t.shape(), dst.shape(t.name()));
            assertF16Of(t.name(), src.bytes(t.name()), dst.bytes(t.name()));
        }
        assertEquals(shards, opened.size(), "every shard holds tensors");
        for (StRead s : opened.values()) {
            assertTrue(s.dataBytes() <= max || s.tensorNames().size() == 1,
                    () -> s.file() + " holds " + s.dataBytes() + " bytes in " + s.tensorNames().size() + " tensors");
        }

        // And the CLI reads it back as the same model.
        JsonNode j = ok("inspect", "--json", out.toString()).json();
        assertEquals(shards, j.path("shards").asInt());
        assertEquals(expected.stream().mapToLong(TensorInfo::elements).sum(), j.path("parameters").asLong());
    }

    @Test
    void llama2cToHfDirectory() throws IOException {
        Path shared = Stories260K.dir();
        Path bin = shared.resolve("stories260K.bin");
        byte[] binBytes = Files.readAllBytes(bin);
        Path out = tmp.resolve("stories-hf");
        CliTesting.Run r = ok("convert", bin.toString(), "-o", out.toString());
        var m = SUMMARY.matcher(r.out());
        assertTrue(m.matches(), r::toString);
        assertEquals(47, Integer.parseInt(m.group(2)));
        assertEquals("1", m.group(4));

        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.llama2c.bin"), names(out));
        assertArrayEquals(Files.readAllBytes(shared.resolve("tok512.bin")), Files.readAllBytes(out.resolve("tokenizer.llama2c.bin")));

        JsonNode config = CliTesting.JSON.readTree(out.resolve("config.json").toFile());
        assertEquals("llama", config.path("model_type").asText());
        assertEquals(64, config.path("hidden_size").asInt());
        assertEquals(172, config.path("intermediate_size").asInt());
        assertEquals(5, config.path("num_hidden_layers").asInt());
        assertEquals(8, config.path("num_attention_heads").asInt());
        assertEquals(4, config.path("num_key_value_heads").asInt());
        assertEquals(512, config.path("vocab_size").asInt());
        assertTrue(config.path("tie_word_embeddings").asBoolean());
        assertEquals("float32", config.path("torch_dtype").asText());

        JsonNode gen = CliTesting.JSON.readTree(out.resolve("generation_config.json").toFile());
        List<Integer> eos = new ArrayList<>();
        gen.path("eos_token_id").forEach(x -> eos.add(x.asInt()));
        assertTrue(eos.contains(1) && eos.contains(2), "BOS (1) and EOS (2) both stop stories260K: " + gen);

        StRead st = StRead.of(out.resolve("model.safetensors"));
        assertEquals(47, st.tensorNames().size());
        assertFalse(st.tensorNames().contains("lm_head.weight"));
        // The embedding is stored first, right after the 28-byte header, and is not permuted.
        byte[] embed = java.util.Arrays.copyOfRange(binBytes, 28, 28 + 512 * 64 * 4);
        assertArrayEquals(embed, st.byteArray("model.embed_tokens.weight"));
        // v_proj is not permuted either: layer 0 follows embed, rms_att (5 x 64), wq (5 x 64 x 64), wk (5 x 32 x 64).
        int vOffset = 28 + 4 * (512 * 64 + 5 * 64 + 5 * 64 * 64 + 5 * 32 * 64);
        assertArrayEquals(java.util.Arrays.copyOfRange(binBytes, vOffset, vOffset + 32 * 64 * 4),
                st.byteArray("model.layers.0.self_attn.v_proj.weight"));
        // q_proj holds the same rows as wq, reordered (a permutation per head, not a copy).
        int qOffset = 28 + 4 * (512 * 64 + 5 * 64);
        assertEquals(rowMultiset(java.util.Arrays.copyOfRange(binBytes, qOffset, qOffset + 64 * 64 * 4), 64 * 4),
                rowMultiset(st.byteArray("model.layers.0.self_attn.q_proj.weight"), 64 * 4));

        JsonNode j = ok("inspect", "--json", out.toString()).json();
        assertEquals(260032, j.path("parameters").asLong());
        assertEquals("hf-directory", j.path("format").asText());
        assertArrayEquals(binBytes, Files.readAllBytes(bin), "input unchanged");
    }

    private static List<String> rowMultiset(byte[] matrix, int rowBytes) {
        List<String> rows = new ArrayList<>();
        for (int off = 0; off < matrix.length; off += rowBytes) {
            rows.add(java.util.HexFormat.of().formatHex(matrix, off, off + rowBytes));
        }
        rows.sort(null);
        return rows;
    }

    @Test
    void integerTensorsAreCopiedUnchangedByDtypeF16() throws IOException {
        int[] ids = {0, 1, -1, Integer.MAX_VALUE, Integer.MIN_VALUE, 65504, 65505, 1 << 24 | 1};
        Path in = new St()
                .f32("w", new long[] {2, 3}, 1.0f, -2.5f, 0.1f, 65504f, 1e-8f, Float.NaN)
                .i32("position_ids", new long[] {ids.length}, ids)
                .write(tmp.resolve("mixed.safetensors"));
        Path out = tmp.resolve("mixed-f16.safetensors");
        ok("convert", in.toString(), "-o", out.toString(), "--dtype", "f16");
        StRead src = StRead.of(in);
        StRead dst = StRead.of(out);
        assertEquals(DType.I32, dst.dtype("position_ids"), "integers are not cast");
        assertArrayEquals(src.byteArray("position_ids"), dst.byteArray("position_ids"));
        assertEquals(DType.F16, dst.dtype("w"));
        assertF16Of("w", src.bytes("w"), dst.bytes("w"));
        ByteBuffer ints = dst.bytes("position_ids").order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < ids.length; i++) {
            assertEquals(ids[i], ints.getInt(i * 4));
        }
    }

    @Test
    void f64IsCastToF32AndOtherTensorsFollow() throws IOException {
        double[] values = {1.5, -2.25, 1e-3, 3.141592653589793, 1e300, -0.0};
        ByteBuffer f64 = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (double v : values) {
            f64.putDouble(v);
        }
        Path in = new St()
                .tensor("d", "F64", new long[] {2, 3}, f64.array())
                .f32("w", new long[] {2}, 0.5f, -7f)
                .write(tmp.resolve("f64.safetensors"));
        Path out = tmp.resolve("f32.safetensors");
        ok("convert", in.toString(), "-o", out.toString(), "--dtype", "f32");
        StRead dst = StRead.of(out);
        assertEquals(DType.F32, dst.dtype("d"));
        assertArrayEquals(new long[] {2, 3}, dst.shape("d"));
        ByteBuffer d = dst.bytes("d");
        for (int i = 0; i < values.length; i++) {
            assertEquals(Float.floatToRawIntBits((float) values[i]), Float.floatToRawIntBits(d.getFloat(i * 4)), "d[" + i + "]");
        }
        assertArrayEquals(StRead.of(in).byteArray("w"), dst.byteArray("w"), "an f32 tensor is copied as is");
    }

    @Test
    void bf16AndF32Targets() throws IOException {
        Path in = synth(Preset.TINY);
        Path bf16 = tmp.resolve("bf16.safetensors");
        ok("convert", in.toString(), "-o", bf16.toString(), "--dtype", "BF16");
        StRead b = StRead.of(bf16);
        StRead src = StRead.of(in.resolve("model.safetensors"));
        for (String n : src.tensorNames()) {
            assertEquals(DType.BF16, b.dtype(n));
            ByteBuffer s = src.bytes(n);
            ByteBuffer d = b.bytes(n);
            for (int i = 0; i < s.remaining() / 4; i++) {
                // bf16 is the top half of the f32, rounded to nearest even; |error| <= half an ulp of bf16.
                float f = s.getFloat(i * 4);
                float back = Float.intBitsToFloat((d.getShort(i * 2) & 0xffff) << 16);
                assertTrue(Math.abs(back - f) <= Math.ulp(back) * 65536 / 2, n + "[" + i + "] " + f + " -> " + back);
            }
        }
        Path f32 = tmp.resolve("f32-again.safetensors");
        ok("convert", bf16.toString(), "-o", f32.toString(), "--dtype", "f32");
        StRead back = StRead.of(f32);
        for (String n : b.tensorNames()) {
            assertEquals(DType.F32, back.dtype(n));
            ByteBuffer s = b.bytes(n);
            ByteBuffer d = back.bytes(n);
            for (int i = 0; i < s.remaining() / 2; i++) {
                assertEquals((s.getShort(i * 2) & 0xffff) << 16, d.getInt(i * 4), "bf16 -> f32 is exact");
            }
        }
    }

    @Test
    void existingNonEmptyDirectoryNeedsForce() throws IOException {
        Path in = synth(Preset.TINY);
        Path out = Files.createDirectory(tmp.resolve("existing"));
        Files.writeString(out.resolve("keep-me.txt"), "precious");

        CliTesting.Run refused = run("convert", in.toString(), "-o", out.toString());
        assertBadInput(refused, out.toString(), "--force");
        assertEquals(List.of("keep-me.txt"), names(out), "the existing directory is untouched");
        assertNoTemporaries(tmp);

        CliTesting.Run forced = ok("convert", in.toString(), "-o", out.toString(), "--force");
        assertTrue(forced.out().startsWith("wrote "), forced::toString);
        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors"), names(out),
                "replaced as a whole: the old file is gone");
        assertNoTemporaries(tmp);
        StRead src = StRead.of(in.resolve("model.safetensors"));
        StRead dst = StRead.of(out.resolve("model.safetensors"));
        for (Iterator<String> it = src.tensorNames().iterator(); it.hasNext(); ) {
            String n = it.next();
            assertArrayEquals(src.byteArray(n), dst.byteArray(n));
        }
    }

    @Test
    void existingEmptyDirectoryIsFilledWithoutForce() throws IOException {
        Path in = synth(Preset.TINY);
        Path out = Files.createDirectory(tmp.resolve("empty"));
        ok("convert", in.toString(), "-o", out.toString());
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
        assertNoTemporaries(tmp);
    }

    @Test
    void existingSafetensorsFileIsReplaced() throws IOException {
        Path in = synth(Preset.TINY);
        Path out = tmp.resolve("o.safetensors");
        Files.writeString(out, "old");
        ok("convert", in.toString(), "-o", out.toString(), "--dtype", "f16");
        assertEquals(DType.F16, StRead.of(out).dtype("model.embed_tokens.weight"));
        assertNoTemporaries(tmp);
    }
}
