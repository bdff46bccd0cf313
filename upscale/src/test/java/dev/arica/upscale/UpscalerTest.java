package dev.arica.upscale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaEntry;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.arica.AricaWriter;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.hf.HfCheckpointWriter;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.testdata.SyntheticLlama;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UpscalerTest {

    @TempDir
    Path tmp;

    private static final SyntheticLlama.Spec SPEC = SyntheticLlama.Preset.TINY_UNTIED.spec().withLayers(6);
    /** Non-layer tensors of the synthetic model: embeddings, final norm, lm_head. */
    private static final int NON_LAYER = 3;
    private static final int PER_LAYER = 9;

    private Path synthetic(String name, long maxShard) throws IOException {
        Path dir = tmp.resolve(name);
        SyntheticLlama.write(dir, SPEC, maxShard, Progress.NONE);
        return dir;
    }

    private static byte[] bytes(Tensor t) {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
        t.parts().forEach(p -> b.writeBytes(p.toArray(ValueLayout.JAVA_BYTE)));
        return b.toByteArray();
    }

    private static LayerSpec slices(String text) {
        return LayerSpec.Slices.parse(text);
    }

    @Test
    void solarDropOnAShardedDirectoryCopiesEveryLayerByTheMap() throws IOException {
        Path in = synthetic("in", 120_000);
        Path out = tmp.resolve("out");
        Upscaler.Result r = Upscaler.upscale(in, out, new LayerSpec.Drop(2), Upscaler.Options.defaults(), Progress.NONE);
        assertEquals(8, r.plan().map().layers());
        assertArrayEquals(new int[] {0, 1, 2, 3, 2, 3, 4, 5}, r.plan().map().sources());
        try (HfCheckpoint a = HfCheckpoint.open(in); HfCheckpoint b = HfCheckpoint.open(out)) {
            assertTrue(a.shardCount() > 1 && b.shardCount() > a.shardCount(), a.shardCount() + " -> " + b.shardCount());
            assertEquals(r.shards(), b.shardCount());
            long largestIn = largestShard(a);
            assertTrue(largestShard(b) <= largestIn, "shards no larger than the input's largest");
            assertEquals(NON_LAYER + 8 * PER_LAYER, b.tensors().size());
            assertEquals(r.plan().tensors(), b.tensors().size());
            int[] map = r.plan().map().sources();
            for (TensorInfo t : b.tensors()) {
                Optional<LayerStack.Name> n = LayerStack.parse(t.name());
                String source = n.map(x -> x.prefix() + map[Integer.parseInt(x.number())] + "." + x.rest()).orElse(t.name());
                assertArrayEquals(bytes(a.tensor(source)), bytes(b.tensor(t.name())), t.name() + " <- " + source);
                assertEquals(a.tensors().stream().filter(x -> x.name().equals(source)).findFirst().orElseThrow()
                        .withName(t.name()), t);
            }
            assertEquals("model.embed_tokens.weight", b.tensors().getFirst().name(), "embeddings first");
            assertEquals("lm_head.weight", b.tensors().getLast().name(), "head last");
            ObjectNode config = b.config().orElseThrow();
            assertEquals(8, config.get("num_hidden_layers").asInt());
            ObjectNode expected = a.config().orElseThrow().deepCopy().put("num_hidden_layers", 8);
            assertEquals(expected, config, "nothing else changes");
            assertEquals("[0,1,2,3,2,3,4,5]", b.metadata().get(Upscaler.META_LAYER_MAP));
            assertEquals("0:4,2:6", b.metadata().get(Upscaler.META_SLICES));
            assertEquals("6", b.metadata().get(Upscaler.META_SOURCE_LAYERS));
            assertEquals("pt", b.metadata().get("format"));
            assertEquals(r.plan().parameters(), b.parameterCount());
            assertEquals(r.plan().bytes(), b.dataBytes());
            assertEquals(a.parameterCount(), r.plan().sourceParameters());
        }
        assertArrayEquals(Files.readAllBytes(in.resolve("generation_config.json")),
                Files.readAllBytes(out.resolve("generation_config.json")), "side files carried over");
        assertNoTemporaries();
    }

    private static long largestShard(HfCheckpoint c) {
        Map<Path, Long> perFile = new java.util.HashMap<>();
        c.tensors().forEach(t -> perFile.merge(c.location(t.name()).orElseThrow().file(), t.byteSize(), Long::sum));
        return perFile.values().stream().mapToLong(Long::longValue).max().orElseThrow();
    }

    @Test
    void oneRangeOverEveryLayerReproducesTheTensors() throws IOException {
        Path in = synthetic("in", HfCheckpointWriter.DEFAULT_MAX_SHARD_SIZE);
        Path out = tmp.resolve("same");
        Upscaler.upscale(in, out, slices("0:6"), Upscaler.Options.defaults(), Progress.NONE);
        try (HfCheckpoint a = HfCheckpoint.open(in); HfCheckpoint b = HfCheckpoint.open(out)) {
            assertEquals(a.tensors(), b.tensors(), "same names, types, shapes and order");
            for (TensorInfo t : a.tensors()) {
                assertArrayEquals(bytes(a.tensor(t.name())), bytes(b.tensor(t.name())), t.name());
            }
            assertEquals(a.config(), b.config());
            assertEquals(1, b.shardCount());
        }
    }

    @Test
    void maxShardSizeIsHonoured() throws IOException {
        Path in = synthetic("in", 120_000);
        Path out = tmp.resolve("one");
        Upscaler.Result r = Upscaler.upscale(in, out, new LayerSpec.Drop(1),
                new Upscaler.Options(100_000_000, false, "t", "t"), Progress.NONE);
        assertEquals(1, r.shards());
        assertTrue(Files.isRegularFile(out.resolve(HfCheckpoint.SINGLE)));
        assertFalse(Files.exists(out.resolve(HfCheckpoint.INDEX)));
    }

    @Test
    void planMatchesWhatIsWrittenAndWritesNothing() throws IOException {
        Path in = synthetic("in", 120_000);
        Upscaler.Plan plan = Upscaler.plan(in, new LayerSpec.Drop(2));
        assertEquals(Upscaler.Kind.HF_DIRECTORY, plan.kind());
        assertFalse(plan.estimated());
        ConfigEstimate e = ConfigEstimate.of(in.resolve("config.json"),
                Json.readObjectFile(in.resolve("config.json")));
        assertEquals(e.parameters(8), plan.parameters(), "the config's arithmetic agrees with the tensors");
        assertEquals(e.parameters(6), plan.sourceParameters());
        assertEquals(e.bytes(8), plan.bytes());
        Path configOnly = Files.createDirectory(tmp.resolve("config-only"));
        Files.copy(in.resolve("config.json"), configOnly.resolve("config.json"));
        for (Path p : List.of(configOnly, configOnly.resolve("config.json"))) {
            Upscaler.Plan estimated = Upscaler.plan(p, new LayerSpec.Drop(2));
            assertEquals(Upscaler.Kind.CONFIG, estimated.kind());
            assertTrue(estimated.estimated());
            assertEquals(plan.parameters(), estimated.parameters());
            assertEquals(plan.bytes(), estimated.bytes());
            assertEquals("float32", estimated.dtype());
        }
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of("config-only", "in"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
        FormatException refused = assertThrows(FormatException.class, () -> Upscaler.upscale(configOnly,
                tmp.resolve("x"), new LayerSpec.Drop(2), Upscaler.Options.defaults(), Progress.NONE));
        assertTrue(refused.getMessage().contains("only a dry run works from config.json alone"), refused.getMessage());
    }

    // ---- .arica ----

    /** An .arica model of 3 layers: float norms, q8_0-stored projections (one compressed), config and side file. */
    private Path aricaModel(String name, ObjectNode config) throws IOException {
        Path p = tmp.resolve(name);
        Storage q8 = new Storage.Quantized(QuantLayout.of(Scheme.Q8_0));
        SplittableRandom rnd = new SplittableRandom(7);
        try (AricaWriter w = AricaWriter.create(p)) {
            plain(w, "model.embed_tokens.weight", new long[] {16, 32}, rnd);
            for (int i = 0; i < 3; i++) {
                plain(w, "model.layers." + i + ".input_layernorm.weight", new long[] {32}, rnd);
                long[] shape = {32, 32};
                for (String proj : List.of("q_proj", "k_proj")) {
                    w.begin("model.layers." + i + ".self_attn." + proj + ".weight", DType.F32, shape, q8,
                            proj.equals("k_proj") ? 3 : 0);
                    byte[] b = new byte[(int) q8.rawBytes(shape)];
                    for (int k = 0; k < b.length; k++) {
                        b[k] = (byte) (k % 7 == 0 ? rnd.nextInt() : i);
                    }
                    w.write(MemorySegment.ofArray(b));
                    w.end();
                }
            }
            plain(w, "model.norm.weight", new long[] {32}, rnd);
            w.addFile("tokenizer.llama2c.bin", new byte[] {1, 2, 3});
            ObjectNode provenance = Json.MAPPER.createObjectNode();
            provenance.putObject("quantization").put("scheme", "q8_0");
            w.commit(config, provenance, Map.of("k", "v"));
        }
        return p;
    }

    private static void plain(AricaWriter w, String name, long[] shape, SplittableRandom rnd) throws IOException {
        byte[] b = new byte[(int) DType.F32.bytesFor(TensorInfo.elements(shape))];
        for (int k = 0; k < b.length; k++) {
            b[k] = (byte) rnd.nextInt();
        }
        w.begin(name, DType.F32, shape, new Storage.Plain(DType.F32), 0);
        w.write(MemorySegment.ofArray(b));
        w.end();
    }

    private static ObjectNode layers(int n) {
        return Json.MAPPER.createObjectNode().put("model_type", "llama").put("num_hidden_layers", n);
    }

    @Test
    void aricaTensorsAreCopiedAsStoredAndTheFileVerifies() throws IOException {
        Path in = aricaModel("in.arica", layers(3));
        Path out = tmp.resolve("out.arica");
        Upscaler.Result r = Upscaler.upscale(in, out, slices("0:2,1:3"),
                new Upscaler.Options(0, false, "9.9", "arica upscale test"), Progress.NONE);
        assertEquals(Upscaler.Kind.ARICA, r.plan().kind());
        int[] map = {0, 1, 1, 2};
        try (AricaFile a = AricaFile.open(in); AricaFile b = AricaFile.open(out)) {
            assertEquals(Optional.empty(), b.verify(Progress.NONE));
            assertEquals(2 + 4 * 3, b.entries().size());
            for (AricaEntry e : b.entries()) {
                Optional<LayerStack.Name> n = LayerStack.parse(e.name());
                String source = n.map(x -> x.prefix() + map[Integer.parseInt(x.number())] + "." + x.rest()).orElse(e.name());
                AricaEntry s = a.entry(source).orElseThrow();
                assertArrayEquals(a.stored(s).toArray(ValueLayout.JAVA_BYTE), b.stored(e).toArray(ValueLayout.JAVA_BYTE),
                        e.name() + " <- " + source);
                assertEquals(s.storage(), e.storage());
                assertEquals(s.compressed(), e.compressed());
                assertEquals(s.crc32c(), e.crc32c());
            }
            assertTrue(b.entry("model.layers.2.self_attn.k_proj.weight").orElseThrow().compressed());
            assertEquals(4, b.config().orElseThrow().get("num_hidden_layers").asInt());
            assertEquals("llama", b.config().orElseThrow().get("model_type").asText());
            ObjectNode provenance = (ObjectNode) b.index().get("provenance");
            assertEquals("q8_0", provenance.get("quantization").get("scheme").asText(), "the input's provenance kept");
            ObjectNode up = (ObjectNode) provenance.get(Upscaler.PROVENANCE_KEY);
            assertEquals("[0,1,1,2]", up.get("layer_map").toString());
            assertEquals("[\"0:2\",\"1:3\"]", up.get("slices").toString());
            assertEquals(3, up.get("source_layers").asInt());
            assertEquals(4, up.get("layers").asInt());
            assertEquals("in.arica", up.get("source_file").asText());
            assertEquals("arica upscale test", up.get("command_line").asText());
            assertEquals("v", b.index().get("user").get("k").asText());
            assertArrayEquals(new byte[] {1, 2, 3}, b.auxFiles().getFirst().content());
        }
    }

    @Test
    void aricaOutputIsReplacedOnlyWhenAsked() throws IOException {
        Path in = aricaModel("in.arica", layers(3));
        Path out = Files.writeString(tmp.resolve("out.arica"), "keep");
        assertThrows(FileAlreadyExistsException.class, () -> Upscaler.upscale(in, out, new LayerSpec.Drop(1),
                Upscaler.Options.defaults(), Progress.NONE));
        assertEquals("keep", Files.readString(out));
        Upscaler.upscale(in, out, new LayerSpec.Drop(1), new Upscaler.Options(0, true, "t", "t"), Progress.NONE);
        assertTrue(AricaFile.looksLikeArica(out));
    }

    @Test
    void aCorruptAricaTensorIsRefusedAndNothingWritten() throws IOException {
        Path in = aricaModel("in.arica", layers(3));
        long at;
        try (AricaFile f = AricaFile.open(in)) {
            at = f.entry("model.layers.1.self_attn.q_proj.weight").orElseThrow().offset() + 3;
        }
        byte[] all = Files.readAllBytes(in);
        all[(int) at] ^= 1;
        Files.write(in, all);
        Path out = tmp.resolve("out.arica");
        FormatException e = assertThrows(FormatException.class, () -> Upscaler.upscale(in, out, new LayerSpec.Drop(1),
                Upscaler.Options.defaults(), Progress.NONE));
        assertEquals("model.layers.1.self_attn.q_proj.weight", e.tensor());
        assertFalse(Files.exists(out));
        assertNoTemporaries();
    }

    @Test
    void aricaWithoutAConfigOrLayerCountIsRefused() throws IOException {
        Path none = aricaModel("none.arica", null);
        FormatException e = assertThrows(FormatException.class, () -> Upscaler.plan(none, new LayerSpec.Drop(1)));
        assertTrue(e.getMessage().contains("holds no config"), e.getMessage());
        Path noCount = aricaModel("nocount.arica", Json.MAPPER.createObjectNode().put("model_type", "llama"));
        e = assertThrows(FormatException.class, () -> Upscaler.plan(noCount, new LayerSpec.Drop(1)));
        assertTrue(e.getMessage().contains("has no \"num_hidden_layers\""), e.getMessage());
    }

    // ---- refusals ----

    /** An HF directory holding the given layer tensors (one small tensor each) and {@code config}. */
    private Path handMade(String name, ObjectNode config, String... tensors) throws IOException {
        Path dir = tmp.resolve(name);
        List<TensorInfo> infos = new ArrayList<>();
        infos.add(new TensorInfo("model.embed_tokens.weight", DType.F32, new long[] {2}));
        for (String t : tensors) {
            infos.add(new TensorInfo(t, DType.F32, new long[] {2}));
        }
        try (HfCheckpointWriter w = HfCheckpointWriter.create(dir, infos, Map.of(), config, List.of(),
                HfCheckpointWriter.DEFAULT_MAX_SHARD_SIZE, false)) {
            for (TensorInfo t : infos) {
                w.begin(t.name());
                w.write(MemorySegment.ofArray(new byte[8]));
            }
            w.commit();
        }
        return dir;
    }

    private FormatException refused(Path in, String... fragments) {
        FormatException e = assertThrows(FormatException.class, () -> Upscaler.upscale(in, tmp.resolve("out"),
                new LayerSpec.Drop(1), Upscaler.Options.defaults(), Progress.NONE));
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "'" + e.getMessage() + "' does not mention '" + f + "'");
        }
        assertFalse(Files.exists(tmp.resolve("out")));
        return e;
    }

    @Test
    void layersNotNumberedZeroToNMinusOneAreRefused() throws IOException {
        FormatException gap = refused(handMade("gap", layers(3), "model.layers.0.w", "model.layers.1.w", "model.layers.3.w"),
                "belongs to layer 3, but num_hidden_layers is 3");
        assertEquals("model.layers.3.w", gap.tensor());
        refused(handMade("missing", layers(4), "model.layers.0.w", "model.layers.1.w", "model.layers.3.w"),
                "has no tensors of layer 2", "0..3");
        refused(handMade("zero", layers(2), "model.layers.0.w", "model.layers.01.w"), "leading zero");
        refused(handMade("two", layers(2), "model.layers.0.w", "model.layers.1.w", "vision.blocks.0.w"),
                "second stack", "vision.blocks.N.");
        refused(handMade("none", layers(2), "model.norm.weight"), "has no layer tensors");
    }

    @Test
    void configWithoutLayerCountOrMissingIsRefused() throws IOException {
        refused(handMade("nocount", Json.MAPPER.createObjectNode().put("n_layer", 2), "model.layers.0.w",
                "model.layers.1.w"), "config.json: has no \"num_hidden_layers\"");
        refused(handMade("noconfig", null, "model.layers.0.w"), "config.json: is missing");
    }

    @Test
    void rangesThatDoNotFitTheModelAreRefusedBeforeWriting() throws IOException {
        Path in = synthetic("in", HfCheckpointWriter.DEFAULT_MAX_SHARD_SIZE);
        for (LayerSpec bad : List.of(slices("0:7"), slices("2:2"), slices("4:1"), new LayerSpec.Drop(6))) {
            assertThrows(IllegalArgumentException.class, () -> Upscaler.upscale(in, tmp.resolve("out"), bad,
                    Upscaler.Options.defaults(), Progress.NONE), bad.describe());
            assertThrows(IllegalArgumentException.class, () -> Upscaler.plan(in, bad), bad.describe());
        }
        assertFalse(Files.exists(tmp.resolve("out")));
    }

    @Test
    void otherInputsAndOutputsAreRefused() throws IOException {
        Path in = synthetic("in", HfCheckpointWriter.DEFAULT_MAX_SHARD_SIZE);
        refused(in.resolve(HfCheckpoint.SINGLE), "is not an HF directory, an .arica file or a config.json");
        refused(Files.createDirectory(tmp.resolve("empty")), "holds neither weights");
        assertThrows(IllegalArgumentException.class, () -> Upscaler.upscale(in, in, new LayerSpec.Drop(1),
                new Upscaler.Options(0, true, "t", "t"), Progress.NONE), "the output is the input");
        Path busy = Files.createDirectory(tmp.resolve("busy"));
        Files.writeString(busy.resolve("keep"), "x");
        assertThrows(DirectoryNotEmptyException.class, () -> Upscaler.upscale(in, busy, new LayerSpec.Drop(1),
                Upscaler.Options.defaults(), Progress.NONE));
        assertTrue(Files.exists(busy.resolve("keep")));
        assertNoTemporaries();
    }

    private void assertNoTemporaries() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.contains(AtomicOutput.TEMP_MARK))
                    .toList());
        }
    }
}
