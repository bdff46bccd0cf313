package dev.arica.formats;

import static dev.arica.formats.TestSupport.assertNoTemporaries;
import static dev.arica.formats.TestSupport.bytesOf;
import static dev.arica.formats.TestSupport.listNames;
import static dev.arica.formats.TestSupport.randomBytes;
import static dev.arica.formats.TestSupport.randomFloats;
import static dev.arica.formats.TestSupport.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.TestSupport.St;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.hf.HfCheckpointWriter;
import dev.arica.formats.io.Json;
import dev.arica.formats.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConverterTest {

    @TempDir
    Path tmp;

    private static final String CONFIG = """
            {
              "architectures": ["LlamaForCausalLM"],
              "model_type": "llama",
              "hidden_size": 16,
              "num_hidden_layers": 3,
              "rope_scaling": null,
              "torch_dtype": "float32"
            }
            """;

    private static final byte[] TOKENIZER_JSON =
            "{\"version\":\"1.0\",\"model\":{\"type\":\"BPE\",\"vocab\":{\"<s>\":1, \"é\":2}}}\r\n".getBytes(StandardCharsets.UTF_8);
    private static final byte[] GENERATION_CONFIG = "{\n  \"bos_token_id\": 1,\n  \"eos_token_id\": 2\n}".getBytes(StandardCharsets.UTF_8);

    /** A Llama-shaped set of tensors, several KB, in storage order, with seeded contents. */
    private static St llamaLike() {
        St st = new St().metadata(Map.of("format", "pt", "origin", "unit-test"));
        long seed = 10;
        st.tensor("model.embed_tokens.weight", DType.F32, shape(32, 16), randomFloats(seed++, 32 * 16));
        for (int i = 0; i < 3; i++) {
            String p = "model.layers." + i + ".";
            st.tensor(p + "input_layernorm.weight", DType.F32, shape(16), randomFloats(seed++, 16));
            st.tensor(p + "self_attn.q_proj.weight", DType.F32, shape(16, 16), randomFloats(seed++, 256));
            st.tensor(p + "self_attn.k_proj.weight", DType.F32, shape(8, 16), randomFloats(seed++, 128));
            st.random(p + "self_attn.v_proj.weight", DType.BF16, shape(8, 16), seed++);
            st.random(p + "mlp.down_proj.weight", DType.F16, shape(16, 40), seed++);
        }
        st.tensor("model.norm.weight", DType.F32, shape(16), randomFloats(seed++, 16));
        st.random("model.rotary.inv_freq.count", DType.I64, shape(), seed++);
        st.tensor("model.empty", DType.F32, shape(0, 16), new byte[0]);
        st.tensor("lm_head.weight", DType.F32, shape(32, 16), randomFloats(seed, 32 * 16));
        return st;
    }

    private Path hfSource(St st) throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("src"));
        st.writeTo(dir.resolve(HfCheckpoint.SINGLE));
        Files.writeString(dir.resolve(HfCheckpoint.CONFIG), CONFIG);
        Files.write(dir.resolve("tokenizer.json"), TOKENIZER_JSON);
        Files.write(dir.resolve("generation_config.json"), GENERATION_CONFIG);
        return dir;
    }

    private static void assertSameTensors(St expected, Checkpoint actual) throws IOException {
        assertEquals(expected.infos(), actual.tensors(), "tensor list, in storage order");
        for (Map.Entry<String, byte[]> e : expected.contents().entrySet()) {
            assertArrayEquals(e.getValue(), bytesOf(actual.tensor(e.getKey())), e.getKey());
        }
    }

    @Test
    void safetensorsToSafetensorsIsBitExact() throws Exception {
        St st = llamaLike();
        Path in = st.writeTo(tmp.resolve("in.safetensors"));
        Path out = tmp.resolve("out.safetensors");
        Converter.Result r;
        try (Checkpoint c = Checkpoint.open(in)) {
            r = Converter.convert(c, out, Converter.Options.defaults(), Progress.NONE);
        }
        assertFalse(r.directory());
        assertEquals(st.infos().size(), r.tensors());
        assertEquals(1, r.shards());
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertSameTensors(st, f);
            assertEquals(Map.of("format", "pt", "origin", "unit-test"), f.metadata());
            assertEquals(r.bytes(), f.dataBytes());
        }
        assertEquals(List.of("in.safetensors", "out.safetensors"), listNames(tmp));
    }

    @Test
    void metadataGetsFormatPtWhenAbsent() throws Exception {
        Path in = new St().tensor("w", DType.U8, shape(2), new byte[] {1, 2}).writeTo(tmp.resolve("in.safetensors"));
        Path out = tmp.resolve("out.safetensors");
        try (Checkpoint c = Checkpoint.open(in)) {
            Converter.convert(c, out, Converter.Options.defaults(), Progress.NONE);
        }
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            assertEquals(Map.of("format", "pt"), f.metadata());
        }
    }

    @Test
    void shardedDirectoryRoundTripIsBitExact() throws Exception {
        St st = llamaLike();
        Path src = hfSource(st);
        long total = st.infos().stream().mapToLong(TensorInfo::byteSize).sum();
        Path sharded = tmp.resolve("sharded");
        long maxShard = 3000;
        Converter.Result r;
        try (Checkpoint c = Checkpoint.open(src)) {
            r = Converter.convert(c, sharded, new Converter.Options(null, maxShard, false), Progress.NONE);
        }
        assertTrue(r.directory());
        int n = r.shards();
        assertTrue(n > 2, "expected more than 2 shards, got " + n);

        // Layout: numbered shards, index, config, aux files, nothing else.
        List<String> expectedNames = new ArrayList<>(List.of("config.json", "generation_config.json",
                "model.safetensors.index.json", "tokenizer.json"));
        for (int i = 1; i <= n; i++) {
            expectedNames.add(String.format("model-%05d-of-%05d.safetensors", i, n));
        }
        assertEquals(expectedNames.stream().sorted().toList(), listNames(sharded));
        assertNoTemporaries(tmp);

        ObjectNode index = Json.readObjectFile(sharded.resolve(HfCheckpoint.INDEX));
        assertEquals(total, index.get("metadata").get("total_size").asLong());
        JsonNode wm = index.get("weight_map");
        assertEquals(st.infos().size(), wm.size());
        for (int i = 1; i <= n; i++) {
            Path shard = sharded.resolve(String.format("model-%05d-of-%05d.safetensors", i, n));
            try (SafetensorsFile f = SafetensorsFile.open(shard)) {
                assertTrue(f.dataBytes() <= maxShard || f.tensors().size() == 1,
                        shard + " holds " + f.dataBytes() + " bytes");
                assertFalse(f.tensors().isEmpty(), shard + " is empty");
                for (TensorInfo t : f.tensors()) {
                    assertEquals(shard.getFileName().toString(), wm.get(t.name()).textValue(), t.name());
                }
                assertEquals(Map.of("format", "pt", "origin", "unit-test"), f.metadata());
            }
        }

        try (HfCheckpoint c = HfCheckpoint.open(sharded)) {
            assertEquals(n, c.shardCount());
            assertEquals(total, c.indexMetadata().orElseThrow().get("total_size").asLong());
            assertSameTensors(st, c);
            assertEquals(Json.MAPPER.readTree(CONFIG), c.config().orElseThrow());
            assertEquals(List.of("generation_config.json", "tokenizer.json"),
                    c.auxFiles().stream().map(AuxFile::name).toList());
        }
        assertArrayEquals(TOKENIZER_JSON, Files.readAllBytes(sharded.resolve("tokenizer.json")));
        assertArrayEquals(GENERATION_CONFIG, Files.readAllBytes(sharded.resolve("generation_config.json")));
        assertEquals(Json.MAPPER.readTree(CONFIG), Json.readObjectFile(sharded.resolve("config.json")));

        // And back to a single file.
        Path single = tmp.resolve("back.safetensors");
        try (Checkpoint c = Checkpoint.open(sharded)) {
            Converter.convert(c, single, Converter.Options.defaults(), Progress.NONE);
        }
        try (SafetensorsFile f = SafetensorsFile.open(single)) {
            assertSameTensors(st, f);
        }
        // And back to an unsharded directory: model.safetensors, no index.
        Path unsharded = tmp.resolve("unsharded");
        try (Checkpoint c = Checkpoint.open(sharded)) {
            Converter.convert(c, unsharded, Converter.Options.defaults(), Progress.NONE);
        }
        assertEquals(List.of("config.json", "generation_config.json", "model.safetensors", "tokenizer.json"),
                listNames(unsharded));
        try (Checkpoint c = Checkpoint.open(unsharded)) {
            assertSameTensors(st, c);
        }
    }

    @Test
    void shardPlanKeepsOrderAndGivesOversizedTensorsTheirOwnShard() {
        List<TensorInfo> ts = List.of(
                new TensorInfo("a", DType.U8, shape(40)),
                new TensorInfo("b", DType.U8, shape(70)),
                new TensorInfo("big", DType.U8, shape(500)),
                new TensorInfo("c", DType.U8, shape(30)),
                new TensorInfo("d", DType.U8, shape(70)));
        List<List<TensorInfo>> plan = HfCheckpointWriter.planShards(ts, 100);
        assertEquals(List.of(List.of("a"), List.of("b"), List.of("big"), List.of("c", "d")),
                plan.stream().map(s -> s.stream().map(TensorInfo::name).toList()).toList());
        assertEquals("model.safetensors", HfCheckpointWriter.shardName(0, 1));
        assertEquals("model-00002-of-00003.safetensors", HfCheckpointWriter.shardName(1, 3));
        assertEquals(1, HfCheckpointWriter.planShards(List.of(), 100).size());
    }

    @Test
    void castToF16MatchesFloatToFloat16AndKeepsIntegers() throws Exception {
        int big = (1 << 20) + 3; // crosses the 2^20-element cast chunk boundary
        byte[] special = TestSupport.f32(0f, -0f, 1f, 65504f, 65520f, 1e-8f, -1e-8f, 6.1e-5f, Float.NaN,
                Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 3.14159f, -70000f, 1.0009766f);
        byte[] i64 = randomBytes(5, 8 * 6);
        byte[] bf16 = randomBytes(6, 2 * 10);
        St st = new St()
                .tensor("special", DType.F32, shape(special.length / 4), special)
                .tensor("big", DType.F32, shape(big), randomFloats(4, big))
                .tensor("ids", DType.I64, shape(2, 3), i64)
                .tensor("brain", DType.BF16, shape(10), bf16)
                .tensor("scalar", DType.F32, shape(), TestSupport.f32(0.1f))
                .tensor("none", DType.F32, shape(0), new byte[0]);
        Path in = st.writeTo(tmp.resolve("in.safetensors"));
        Path out = tmp.resolve("half.safetensors");
        AtomicLong advanced = new AtomicLong();
        Progress progress = new Progress() {
            @Override
            public void start(String task, long totalBytes) {
                assertEquals(2L * (special.length / 4 + big + 1) + i64.length + 20, totalBytes);
            }

            @Override
            public void advance(long bytes) {
                advanced.addAndGet(bytes);
            }

            @Override
            public void finish() {}
        };
        try (Checkpoint c = Checkpoint.open(in)) {
            Converter.convert(c, out, new Converter.Options(DType.F16, Long.MAX_VALUE, false), progress);
        }
        assertEquals(2L * (special.length / 4 + big + 1) + i64.length + 20, advanced.get());
        try (SafetensorsFile f = SafetensorsFile.open(out)) {
            for (String name : List.of("special", "big", "scalar", "none")) {
                TensorInfo t = f.info(name).orElseThrow();
                assertEquals(DType.F16, t.dtype(), name);
                float[] src = TestSupport.floats(st.contents().get(name));
                ByteBuffer got = ByteBuffer.wrap(bytesOf(f.tensor(name))).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < src.length; i++) {
                    short want = Float.floatToFloat16(src[i]);
                    short have = got.getShort(2 * i);
                    if (want != have) {
                        throw new AssertionError(name + "[" + i + "] = " + src[i] + ": expected 0x"
                                + Integer.toHexString(want & 0xffff) + ", got 0x" + Integer.toHexString(have & 0xffff));
                    }
                }
            }
            assertEquals(DType.I64, f.info("ids").orElseThrow().dtype());
            assertArrayEquals(i64, bytesOf(f.tensor("ids")));
            TensorInfo b = f.info("brain").orElseThrow();
            assertEquals(DType.F16, b.dtype());
            ByteBuffer src = ByteBuffer.wrap(bf16).order(ByteOrder.LITTLE_ENDIAN);
            ByteBuffer got = ByteBuffer.wrap(bytesOf(f.tensor("brain"))).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < 10; i++) {
                float v = FloatCast.bf16ToF32(src.getShort(2 * i));
                short have = got.getShort(2 * i);
                if (Float.isNaN(v)) {
                    assertTrue(Float.isNaN(Float.float16ToFloat(have)), "brain[" + i + "]");
                } else {
                    assertEquals(Float.floatToFloat16(v), have, "brain[" + i + "]");
                }
            }
        }
    }

    @Test
    void castToBf16OfADirectoryUpdatesTorchDtype() throws Exception {
        St st = llamaLike();
        Path src = hfSource(st);
        Path out = tmp.resolve("bf16");
        try (Checkpoint c = Checkpoint.open(src)) {
            Converter.convert(c, out, new Converter.Options(DType.BF16, HfCheckpointWriter.DEFAULT_MAX_SHARD_SIZE,
                    false), Progress.NONE);
        }
        ObjectNode config = Json.readObjectFile(out.resolve("config.json"));
        assertEquals("bfloat16", config.get("torch_dtype").textValue());
        ObjectNode expected = (ObjectNode) Json.MAPPER.readTree(CONFIG);
        expected.put("torch_dtype", "bfloat16");
        assertEquals(expected, config);
        try (Checkpoint c = Checkpoint.open(out)) {
            for (TensorInfo t : st.infos()) {
                DType want = t.dtype().isFloat() ? DType.BF16 : t.dtype();
                assertEquals(want, c.tensors().stream().filter(x -> x.name().equals(t.name())).findFirst()
                        .orElseThrow().dtype(), t.name());
            }
            byte[] q = st.contents().get("model.layers.1.self_attn.q_proj.weight");
            float[] qf = TestSupport.floats(q);
            ByteBuffer got = ByteBuffer.wrap(bytesOf(c.tensor("model.layers.1.self_attn.q_proj.weight")))
                    .order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < qf.length; i++) {
                assertEquals(FloatCast.f32ToBf16(qf[i]), got.getShort(2 * i), "q_proj[" + i + "]");
            }
        }
    }

    @Test
    void castToF16OfADirectoryUpdatesTorchDtypeAndNoCastKeepsIt() throws Exception {
        Path src = hfSource(llamaLike());
        Path half = tmp.resolve("half");
        Path same = tmp.resolve("same");
        try (Checkpoint c = Checkpoint.open(src)) {
            Converter.convert(c, half, new Converter.Options(DType.F16, 4000, false), Progress.NONE);
            Converter.convert(c, same, Converter.Options.defaults(), Progress.NONE);
        }
        assertEquals("float16", Json.readObjectFile(half.resolve("config.json")).get("torch_dtype").textValue());
        assertEquals("float32", Json.readObjectFile(same.resolve("config.json")).get("torch_dtype").textValue());
        assertTrue(Files.exists(half.resolve(HfCheckpoint.INDEX)));
    }

    @Test
    void convertingOntoTheInputFileIsRefused() throws Exception {
        Path in = llamaLike().writeTo(tmp.resolve("in.safetensors"));
        byte[] before = Files.readAllBytes(in);
        try (Checkpoint c = Checkpoint.open(in)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Converter.convert(c, in, new Converter.Options(DType.F16, 1000, true), Progress.NONE));
            assertTrue(e.getMessage().contains("is the input"), e.getMessage());
            // Another spelling of the same path.
            Path other = tmp.resolve(".").resolve("in.safetensors");
            assertThrows(IllegalArgumentException.class,
                    () -> Converter.convert(c, other, Converter.Options.defaults(), Progress.NONE));
        }
        assertArrayEquals(before, Files.readAllBytes(in));
        assertEquals(List.of("in.safetensors"), listNames(tmp));
    }

    @Test
    void convertingOntoTheInputDirectoryIsRefusedEvenWithReplace() throws Exception {
        Path src = hfSource(llamaLike());
        List<String> before = listNames(src);
        byte[] model = Files.readAllBytes(src.resolve(HfCheckpoint.SINGLE));
        try (Checkpoint c = Checkpoint.open(src)) {
            assertThrows(IllegalArgumentException.class,
                    () -> Converter.convert(c, src, new Converter.Options(null, 1000, true), Progress.NONE));
        }
        assertEquals(before, listNames(src));
        assertArrayEquals(model, Files.readAllBytes(src.resolve(HfCheckpoint.SINGLE)));
        assertNoTemporaries(tmp);
    }

    @Test
    void nonEmptyOutputDirectoryNeedsReplace() throws Exception {
        Path in = llamaLike().writeTo(tmp.resolve("in.safetensors"));
        Path out = Files.createDirectory(tmp.resolve("out"));
        Files.writeString(out.resolve("keep.txt"), "mine");
        try (Checkpoint c = Checkpoint.open(in)) {
            assertThrows(DirectoryNotEmptyException.class,
                    () -> Converter.convert(c, out, Converter.Options.defaults(), Progress.NONE));
            assertEquals(List.of("keep.txt"), listNames(out));
            Converter.convert(c, out, new Converter.Options(null, HfCheckpointWriter.DEFAULT_MAX_SHARD_SIZE, true),
                    Progress.NONE);
        }
        assertEquals(List.of("model.safetensors"), listNames(out));
        assertNoTemporaries(tmp);
    }

    @Test
    void refusedCastWritesNothing() throws Exception {
        Path in = new St().tensor("ok", DType.F32, shape(2), TestSupport.f32(1, 2))
                .random("fp8.weight", DType.F8_E4M3, shape(4), 1)
                .writeTo(tmp.resolve("in.safetensors"));
        Path out = tmp.resolve("out.safetensors");
        Path outDir = tmp.resolve("outdir");
        try (Checkpoint c = Checkpoint.open(in)) {
            FloatCast.UnsupportedCastException e = assertThrows(FloatCast.UnsupportedCastException.class,
                    () -> Converter.convert(c, out, new Converter.Options(DType.F16, 1000, false), Progress.NONE));
            assertTrue(e.getMessage().contains("fp8.weight"), e.getMessage());
            assertTrue(e.getMessage().contains("F8_E4M3"), e.getMessage());
            assertThrows(FloatCast.UnsupportedCastException.class,
                    () -> Converter.convert(c, outDir, new Converter.Options(DType.F16, 1000, false), Progress.NONE));
        }
        assertEquals(List.of("in.safetensors"), listNames(tmp));
    }

    /** A checkpoint that fails when its {@code failAt}-th tensor is read, as a disk error would. */
    private static Checkpoint failing(Checkpoint in, int failAt) {
        return new Checkpoint() {
            @Override public String format() { return in.format(); }
            @Override public Path path() { return in.path(); }
            @Override public List<TensorInfo> tensors() { return in.tensors(); }
            @Override public Map<String, String> metadata() { return in.metadata(); }
            @Override public Optional<ObjectNode> config() { return in.config(); }
            @Override public List<AuxFile> auxFiles() { return in.auxFiles(); }
            @Override public List<Path> dataFiles() { return in.dataFiles(); }
            @Override public void close() { in.close(); }

            @Override
            public Tensor tensor(String name) throws IOException {
                if (name.equals(in.tensors().get(failAt).name())) {
                    throw new IOException("simulated read error in " + name);
                }
                return in.tensor(name);
            }
        };
    }

    @Test
    void failureMidConversionLeavesNoFile() throws Exception {
        Path in = llamaLike().writeTo(tmp.resolve("in.safetensors"));
        Path out = tmp.resolve("out.safetensors");
        try (Checkpoint c = failing(Checkpoint.open(in), 5)) {
            IOException e = assertThrows(IOException.class,
                    () -> Converter.convert(c, out, new Converter.Options(DType.F16, 1000, false), Progress.NONE));
            assertTrue(e.getMessage().contains("simulated"), e.getMessage());
        }
        assertEquals(List.of("in.safetensors"), listNames(tmp));
    }

    @Test
    void failureMidConversionLeavesExistingOutputUntouched() throws Exception {
        Path in = llamaLike().writeTo(tmp.resolve("in.safetensors"));
        Path out = tmp.resolve("out.safetensors");
        Files.writeString(out, "old");
        try (Checkpoint c = failing(Checkpoint.open(in), 7)) {
            assertThrows(IOException.class, () -> Converter.convert(c, out, Converter.Options.defaults(), Progress.NONE));
        }
        assertEquals("old", Files.readString(out));
        assertEquals(List.of("in.safetensors", "out.safetensors"), listNames(tmp));
    }

    @Test
    void failureMidShardedConversionLeavesNoDirectory() throws Exception {
        Path src = hfSource(llamaLike());
        Path out = tmp.resolve("sharded");
        try (Checkpoint c = failing(Checkpoint.open(src), 12)) {
            assertThrows(IOException.class,
                    () -> Converter.convert(c, out, new Converter.Options(null, 2000, false), Progress.NONE));
        }
        assertFalse(Files.exists(out));
        assertEquals(List.of("src"), listNames(tmp));
    }

    @Test
    void failureMidShardedConversionKeepsTheReplacedDirectory() throws Exception {
        Path src = hfSource(llamaLike());
        Path out = Files.createDirectory(tmp.resolve("sharded"));
        Files.writeString(out.resolve("old.txt"), "old");
        try (Checkpoint c = failing(Checkpoint.open(src), 12)) {
            assertThrows(IOException.class,
                    () -> Converter.convert(c, out, new Converter.Options(null, 2000, true), Progress.NONE));
        }
        assertEquals(List.of("old.txt"), listNames(out));
        assertEquals(List.of("sharded", "src"), listNames(tmp));
    }

    @Test
    void targetInfoAndTorchNames() {
        TensorInfo f = new TensorInfo("w", DType.F32, shape(2));
        TensorInfo i = new TensorInfo("ids", DType.I32, shape(2));
        assertEquals(DType.F16, Converter.targetInfo(f, DType.F16).dtype());
        assertEquals(i, Converter.targetInfo(i, DType.F16));
        assertEquals(f, Converter.targetInfo(f, null));
        assertEquals("float16", Converter.torchName(DType.F16));
        assertEquals("bfloat16", Converter.torchName(DType.BF16));
        assertEquals("float32", Converter.torchName(DType.F32));
        assertTrue(Converter.isSingleFile(Path.of("x/model.SafeTensors")));
        assertFalse(Converter.isSingleFile(Path.of("x/model")));
        assertNotEquals(Converter.targetInfo(f, DType.BF16), Converter.targetInfo(f, DType.F16));
    }
}
