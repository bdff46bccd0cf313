package dev.arica.formats.gptq;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.FormatException;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.testing.GptqFixtures;
import dev.arica.formats.testing.GptqFixtures.Layer;
import dev.arica.formats.testing.GptqFixtures.Raw;
import dev.arica.formats.testing.TestModels;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPTQ directories read as the float model they stand for: the bundled AutoGPTQ checkpoint and variants packed by the
 * tests' own code (v2 zero points, 8-bit words, desc_act's out-of-order groups, asymmetric zero points, an old config
 * without checkpoint_format), each float weight equal, element for element, to the tests' own dequantization; broken
 * files refused with one line naming the file and the tensor (or key).
 */
class GptqCheckpointTest {
    @TempDir
    Path tmp;

    private static final Path BUNDLED = TestModels.dir(GptqFixtures.MODEL);

    /** Every GPTQ layer of {@code c} equals the weights {@code layers} give, element for element. */
    private static void assertWeights(Checkpoint c, Map<String, Layer> layers) throws IOException {
        assertEquals(12, layers.size(), "four layers in each of three blocks");
        for (Layer l : layers.values()) {
            Tensor t = c.tensor(l.module() + ".weight");
            assertEquals(DType.F32, t.info().dtype());
            assertArrayEquals(new long[] {l.out(), l.in()}, t.info().shape());
            MemorySegment data = t.parts().getFirst();
            float[][] want = l.weight();
            for (int n = 0; n < l.out(); n++) {
                for (int k = 0; k < l.in(); k++) {
                    float got = data.getAtIndex(FloatCast.F32_LE, (long) n * l.in() + k);
                    if (Float.floatToRawIntBits(got) != Float.floatToRawIntBits(want[n][k])) {
                        throw new AssertionError(l.module() + "[" + n + ", " + k + "]: " + got + " != " + want[n][k]);
                    }
                }
            }
        }
    }

    private Path variant(String name, UnaryOperator<Layer> change, int bits, boolean v2, boolean sym, boolean descAct,
            String format) throws IOException {
        GptqFixtures f = GptqFixtures.bundled().map(change);
        return GptqFixtures.write(tmp.resolve(name), f.tensors(bits, v2), GptqFixtures.quantizeConfig(bits, sym, descAct,
                format), true);
    }

    @Test
    void theBundledCheckpointIsTheFloatFalconItStandsFor() throws IOException {
        try (Checkpoint c = Checkpoint.open(BUNDLED)) {
            GptqCheckpoint g = assertInstanceOf(GptqCheckpoint.class, c);
            assertEquals("gptq", c.format());
            GptqConfig q = g.gptq();
            assertEquals(4, q.bits());
            assertEquals(32, q.groupSize());
            assertTrue(q.sym());
            assertFalse(q.descAct());
            assertEquals(GptqConfig.Format.V1, q.format());
            assertEquals("quantize_config.json", q.file().getFileName().toString());
            List<String> names = c.tensors().stream().map(TensorInfo::name).toList();
            assertEquals(22, names.size(), "12 weights instead of 48 planes, and 10 float tensors");
            assertTrue(names.contains("transformer.h.2.mlp.dense_4h_to_h.weight"));
            assertFalse(names.stream().anyMatch(n -> n.endsWith(".qweight") || n.endsWith(".g_idx")), names::toString);
            assertEquals("falcon", ModelDescription.of(c, "").family().id());
            assertFalse(c.config().orElseThrow().has("quantization_config"), "the dequantized model's config");
            assertEquals(List.of("generation_config.json"), c.auxFiles().stream().map(AuxFile::name).toList());
            assertFalse(c.metadata().containsKey("gptq_bits"));
            assertEquals(List.of(BUNDLED.resolve("model.safetensors"), BUNDLED.resolve("quantize_config.json")),
                    c.dataFiles(), "the description decides what the bytes mean (provenance, export cache)");
            assertEquals(Files.size(BUNDLED.resolve("model.safetensors")) - 8
                    - headerBytes(BUNDLED.resolve("model.safetensors")), c.dataBytes(), "the stored bytes");
            assertEquals(32 * 64 * 4, g.storedTensors().stream().filter(t -> t.name().equals(
                    "transformer.h.0.mlp.dense_4h_to_h.qweight")).findFirst().orElseThrow().byteSize());
            assertWeights(c, GptqFixtures.bundled().layers());
            try (HfCheckpoint raw = HfCheckpoint.open(BUNDLED)) {
                Tensor want = raw.tensor("lm_head.weight");
                Tensor got = c.tensor("lm_head.weight");
                assertEquals(-1, want.parts().getFirst().mismatch(got.parts().getFirst()), "float tensors as stored");
            }
        }
    }

    private static long headerBytes(Path file) throws IOException {
        byte[] b = Files.readAllBytes(file);
        return java.nio.ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(0);
    }

    @Test
    void v2ZeroPointsAnOldConfigAndConfigJsonAloneGiveTheSameWeights() throws IOException {
        Map<String, Layer> same = GptqFixtures.bundled().layers();
        Path v2 = variant("v2", l -> l, 4, true, true, false, "gptq_v2");
        try (Checkpoint c = Checkpoint.open(v2)) {
            assertEquals(GptqConfig.Format.V2, ((GptqCheckpoint) c).gptq().format());
            assertWeights(c, same);
        }
        // AutoGPTQ before checkpoint_format: v1 is assumed.
        Path old = variant("old", l -> l, 4, false, true, false, null);
        try (Checkpoint c = Checkpoint.open(old)) {
            assertEquals(GptqConfig.Format.V1, ((GptqCheckpoint) c).gptq().format());
            assertWeights(c, same);
        }
        // The v2 bytes read as v1 give other weights: the format decides.
        Files.writeString(v2.resolve("quantize_config.json"), GptqFixtures.quantizeConfig(4, true, false, "gptq")
                .toString());
        try (Checkpoint c = Checkpoint.open(v2)) {
            assertThrows(AssertionError.class, () -> assertWeights(c, same));
        }
        Files.delete(old.resolve("quantize_config.json"));
        try (Checkpoint c = Checkpoint.open(old)) {
            assertEquals("config.json", ((GptqCheckpoint) c).gptq().file().getFileName().toString());
            assertWeights(c, same);
        }
    }

    @Test
    void eightBitWordsGiveTheSameWeights() throws IOException {
        try (Checkpoint c = Checkpoint.open(variant("int8", l -> l, 8, false, true, false, "gptq"))) {
            assertEquals(8, ((GptqCheckpoint) c).gptq().bits());
            assertWeights(c, GptqFixtures.bundled().layers());
        }
    }

    @Test
    void descActGroupsAndAsymmetricZeroPointsAreReadAsStored() throws IOException {
        GptqFixtures bundled = GptqFixtures.bundled();
        try (Checkpoint c = Checkpoint.open(variant("relabelled", Layer::relabelled, 4, false, true, true, "gptq"))) {
            GptqCheckpoint g = (GptqCheckpoint) c;
            GptqWeight w = g.weight("transformer.h.0.mlp.dense_4h_to_h.weight").orElseThrow();
            assertFalse(g.planes(w).inOrder(32), "g_idx is not k / 32");
            assertWeights(c, bundled.layers());
        }
        GptqFixtures interleaved = bundled.map(Layer::interleaved);
        try (Checkpoint c = Checkpoint.open(variant("interleaved", Layer::interleaved, 4, false, true, true, "gptq"))) {
            assertWeights(c, interleaved.layers());
        }
        GptqFixtures asym = bundled.map(l -> l.asymmetric(7));
        try (Checkpoint c = Checkpoint.open(variant("asym", l -> l.asymmetric(7), 4, false, false, false, "gptq"))) {
            assertFalse(((GptqCheckpoint) c).gptq().sym());
            assertWeights(c, asym.layers());
        }
        // Both are other models than the bundled one (so the comparisons above are not the bundled weights again).
        String m = bundled.firstModule();
        assertFalse(java.util.Arrays.deepEquals(bundled.layers().get(m).weight(), asym.layers().get(m).weight()));
        assertFalse(java.util.Arrays.deepEquals(bundled.layers().get(m).weight(), interleaved.layers().get(m).weight()));
    }

    /** GPT-2's Conv1D weights are [in, out]: a GPTQ layer, always [out, in], would be read transposed. */
    @Test
    void aGptqLayerOfAConv1DWeightIsRefused() throws IOException {
        Path gpt2 = TestModels.dir("tiny-gpt2");
        Path dir = Files.createDirectories(tmp.resolve("gpt2-gptq"));
        Files.copy(gpt2.resolve("config.json"), dir.resolve("config.json"));
        Files.writeString(dir.resolve("quantize_config.json"), GptqFixtures.quantizeConfig(4, true, false, "gptq")
                .toString());
        Layer square = GptqFixtures.bundled().layers().get("transformer.h.0.self_attention.dense").renamed("h.0.attn.c_proj");
        List<Raw> tensors = new java.util.ArrayList<>();
        try (HfCheckpoint raw = HfCheckpoint.open(gpt2)) {
            for (TensorInfo t : raw.tensors()) {
                if (t.name().equals("h.0.attn.c_proj.weight")) {
                    tensors.addAll(square.packed(4, false));
                } else {
                    tensors.add(new Raw(t.name(), t.dtype().safetensorsName(), t.shape(),
                            raw.tensor(t.name()).parts().getFirst().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
                }
            }
        }
        GptqFixtures.writeSafetensors(dir.resolve("model.safetensors"), tensors);
        assertEquals("h.0.attn.c_proj.qweight", refused(dir, "model.safetensors", "Conv1D [in, out]").tensor());
    }

    /** Opening {@code dir} fails with one line naming {@code file} and containing {@code words}. */
    private static FormatException refused(Path dir, String file, String... words) {
        FormatException e = assertThrows(FormatException.class, () -> Checkpoint.open(dir).close());
        String m = e.getMessage();
        assertFalse(m.contains("\n"), m);
        assertTrue(m.startsWith(dir.resolve(file).toString()), m);
        for (String w : words) {
            assertTrue(m.contains(w), () -> "'" + w + "' missing from: " + m);
        }
        return e;
    }

    private Path broken(String name, UnaryOperator<List<Raw>> edit, int bits) throws IOException {
        List<Raw> tensors = edit.apply(GptqFixtures.bundled().tensors(4, false));
        return GptqFixtures.write(tmp.resolve(name), tensors, GptqFixtures.quantizeConfig(bits, true, false, "gptq"), true);
    }

    @Test
    void badFilesAreRefusedNamingTheFileAndTheTensor() throws IOException {
        String m = GptqFixtures.bundled().firstModule();
        Path shape = broken("shape", t -> GptqFixtures.replace(t, m + ".qweight", new Raw(m + ".qweight", "I32",
                new long[] {7, 96}, new byte[7 * 96 * 4])), 4);
        assertEquals(m + ".qweight", refused(shape, "model.safetensors", "has shape [7, 96], expected [8, 96]").tensor());

        Path range = broken("range", t -> {
            byte[] g = new byte[64 * 4];
            java.nio.ByteBuffer.wrap(g).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(5 * 4, 2);
            return GptqFixtures.replace(t, m + ".g_idx", new Raw(m + ".g_idx", "I32", new long[] {64}, g));
        }, 4);
        assertEquals(m + ".g_idx", refused(range, "model.safetensors", "g_idx[5] is 2, outside the layer's 2 groups")
                .tensor());

        Path dtype = broken("dtype", t -> GptqFixtures.replace(t, m + ".scales", new Raw(m + ".scales", "F32",
                new long[] {2, 96}, new byte[2 * 96 * 4])), 4);
        assertEquals(m + ".scales", refused(dtype, "model.safetensors", "is F32[2, 96], not a 2-D F16 tensor").tensor());

        Path missing = broken("missing", t -> t.stream().filter(x -> !x.name().equals(m + ".qzeros")).toList(), 4);
        assertEquals(m + ".qweight", refused(missing, "model.safetensors", "has no " + m + ".qzeros").tensor());

        refused(broken("bits3", t -> t, 3), "quantize_config.json", "bits is 3", "4 or 8");
        Path empty = broken("empty", t -> t.stream().filter(x -> !x.name().startsWith("transformer.h.")).toList(), 4);
        refused(empty, "quantize_config.json", "no tensor of", "ends in .qweight");
        Path marlin = broken("marlin", t -> t, 4);
        Files.writeString(marlin.resolve("quantize_config.json"), GptqFixtures.quantizeConfig(4, true, false, "marlin")
                .toString());
        refused(marlin, "quantize_config.json", "checkpoint_format is 'marlin'");
    }
}
