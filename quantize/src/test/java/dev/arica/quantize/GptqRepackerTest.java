package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.Converter;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.Tensor;
import dev.arica.formats.arica.AricaEntry;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.quant.Scheme;
import dev.arica.formats.safetensors.SafetensorsFile;
import dev.arica.formats.testing.GptqFixtures;
import dev.arica.formats.testing.GptqFixtures.Layer;
import dev.arica.formats.testing.TestModels;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GPTQ layers stored in an .arica file without requantization: int4/int8 asymmetric groups (permuted for desc_act)
 * that dequantize, element for element, to the weights of the GPTQ checkpoint as the tests' own code decodes them;
 * the layers no layout holds exactly requantized, and said so.
 */
class GptqRepackerTest {
    @TempDir
    Path tmp;

    private static CheckpointQuantizer.Options asStored() {
        return new CheckpointQuantizer.Options(null, TensorSelection.defaults(), null, 0, Map.of(), "test", "", 1, null);
    }

    private Path variant(String name, UnaryOperator<Layer> change, int bits) throws IOException {
        GptqFixtures f = GptqFixtures.bundled().map(change);
        return GptqFixtures.write(tmp.resolve(name), f.tensors(bits, false), GptqFixtures.quantizeConfig(bits, true, true,
                "gptq"), true);
    }

    /** Quantizes {@code dir} as stored into an .arica file, dequantizes that with convert, returns both. */
    private Path[] storeAndDequantize(Path dir, String name) throws IOException {
        Path arica = tmp.resolve(name + ".arica");
        Path back = tmp.resolve(name + "-dequantized.safetensors");
        try (Checkpoint in = Checkpoint.open(dir)) {
            CheckpointQuantizer.Report r = CheckpointQuantizer.quantize(in, arica, asStored(), Progress.NONE);
            assertEquals(12, r.quantizedCount());
        }
        try (AricaFile f = AricaFile.open(arica)) {
            AricaDequantizer.convert(f, back, Converter.Options.defaults(), Progress.NONE);
        }
        return new Path[] {arica, back};
    }

    /** Every layer of the dequantized file equals {@code layers}' weights, element for element. */
    private static void assertWeights(Path safetensors, Map<String, Layer> layers) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(safetensors)) {
            for (Layer l : layers.values()) {
                Tensor t = f.tensor(l.module() + ".weight");
                MemorySegment data = t.parts().getFirst();
                float[][] want = l.weight();
                for (int n = 0; n < l.out(); n++) {
                    for (int k = 0; k < l.in(); k++) {
                        float got = data.getAtIndex(FloatCast.F32_LE, (long) n * l.in() + k);
                        if (Float.floatToRawIntBits(want[n][k]) != Float.floatToRawIntBits(got)) {
                            throw new AssertionError(l.module() + "[" + n + ", " + k + "]: " + got + " != " + want[n][k]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void theBundledLayersBecomeInt4GroupsOf32WithTheSameValues() throws IOException {
        Path dir = TestModels.dir(GptqFixtures.MODEL);
        Path arica = tmp.resolve("bundled.arica");
        CheckpointQuantizer.Report r;
        try (Checkpoint in = Checkpoint.open(dir)) {
            r = CheckpointQuantizer.quantize(in, arica, asStored(), Progress.NONE);
        }
        for (CheckpointQuantizer.TensorReport t : r.tensors()) {
            if (t.quantized()) {
                assertEquals("int4 g32 asym", t.storage(), t.name());
                assertEquals(Double.POSITIVE_INFINITY, t.error().snrDb(), t.name() + " is exact");
                assertEquals("GPTQ 4-bit g32 codes as stored", t.reason());
            } else {
                assertTrue(t.storage().equals("F16"), t.name() + " stays as stored: " + t.storage());
            }
        }
        try (AricaFile f = AricaFile.open(arica)) {
            assertEquals("1.0", f.index().get("format_version").asText(), "nothing permuted");
            assertEquals("gptq", f.index().path("provenance").path("quantization").path("scheme").asText());
            AricaEntry e = f.entry("transformer.h.0.self_attention.query_key_value.weight").orElseThrow();
            Storage.Quantized q = (Storage.Quantized) e.storage();
            assertEquals(Scheme.INT4, q.layout().scheme());
            assertFalse(q.permuted());
        }
        Path back = tmp.resolve("bundled.safetensors");
        try (AricaFile f = AricaFile.open(arica)) {
            AricaDequantizer.convert(f, back, Converter.Options.defaults(), Progress.NONE);
        }
        assertWeights(back, GptqFixtures.bundled().layers());
    }

    @Test
    void eightBitLayersBecomeInt8() throws IOException {
        Path[] files = storeAndDequantize(variant("int8", l -> l, 8), "int8");
        try (AricaFile f = AricaFile.open(files[0])) {
            Storage.Quantized q = (Storage.Quantized) f.entry("transformer.h.1.mlp.dense_4h_to_h.weight").orElseThrow()
                    .storage();
            assertEquals("int8 g32 asym", q.layout().describe());
        }
        assertWeights(files[1], GptqFixtures.bundled().layers());
    }

    @Test
    void descActLayersAreStoredPermutedWithTheSameValues() throws IOException {
        Path[] relabelled = storeAndDequantize(variant("relabelled", Layer::relabelled, 4), "relabelled");
        try (AricaFile f = AricaFile.open(relabelled[0])) {
            assertEquals("3.0", f.index().get("format_version").asText());
            AricaEntry e = f.entry("transformer.h.0.mlp.dense_4h_to_h.weight").orElseThrow();
            assertTrue(((Storage.Quantized) e.storage()).permuted());
            // Groups 0..7 relabelled 1..7, 0: sorted by group, the features of old group 7 come first.
            var order = f.columnOrder(e, f.stored(e)).orElseThrow();
            assertEquals(224, order.get(0));
            assertEquals(0, order.get(32));
            assertEquals(Optional.empty(), f.verify(Progress.NONE));
        }
        assertWeights(relabelled[1], GptqFixtures.bundled().layers());

        Path[] interleaved = storeAndDequantize(variant("interleaved", Layer::interleaved, 4), "interleaved");
        try (AricaFile f = AricaFile.open(interleaved[0])) {
            AricaEntry e = f.entry("transformer.h.0.self_attention.dense.weight").orElseThrow();
            var order = f.columnOrder(e, f.stored(e)).orElseThrow();
            assertEquals(2, order.get(1), "rows 0, 2, 4, ... form group 0");
        }
        assertWeights(interleaved[1], GptqFixtures.bundled().map(Layer::interleaved).layers());
    }

    @Test
    void groupsOfUnequalSizeAreRequantizedAndSaySo() throws IOException {
        Path dir = variant("uneven", l -> l.uneven(8), 4);
        Path arica = tmp.resolve("uneven.arica");
        CheckpointQuantizer.Report r;
        try (Checkpoint in = Checkpoint.open(dir)) {
            r = CheckpointQuantizer.quantize(in, arica, asStored(), Progress.NONE);
        }
        CheckpointQuantizer.TensorReport t = r.tensors().stream().filter(x -> x.name().equals(
                "transformer.h.0.mlp.dense_h_to_4h.weight")).findFirst().orElseThrow();
        assertEquals("GPTQ 4-bit g32 requantized: g_idx gives group 0 40 input features, not 32", t.reason());
        assertEquals("int4 g32 asym", t.storage());
        double snr = t.error().snrDb();
        // Requantizing 4-bit values into other groups of 32: lossy (measured 22.7 to 23.0 dB on every layer).
        assertTrue(snr > 20 && snr < Double.POSITIVE_INFINITY, "SNR " + snr);
    }

    @Test
    void aricaGroupSizesHoldWholeGptqGroups() {
        assertEquals(32, GptqRepacker.aricaGroup(32, 2, 64));
        assertEquals(128, GptqRepacker.aricaGroup(128, 32, 4096));
        assertEquals(256, GptqRepacker.aricaGroup(1024, 4, 4096));
        assertEquals(16, GptqRepacker.aricaGroup(48, 3, 144), "48 = 3 x 16");
        assertEquals(0, GptqRepacker.aricaGroup(40, 2, 80), "no power of two from 16 divides 40");
        assertEquals(256, GptqRepacker.aricaGroup(11008, 1, 11008), "one group per row (group_size -1)");
        assertEquals(64, GptqRepacker.aricaGroup(64, 1, 64));
    }

    @Test
    void withoutASchemeOnlyAGptqCheckpointIsStored() throws IOException {
        try (Checkpoint in = Checkpoint.open(TestModels.dir("tiny-falcon"))) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> CheckpointQuantizer.quantize(in, tmp.resolve("x.arica"), asStored(), Progress.NONE));
            assertTrue(e.getMessage().contains("not a GPTQ checkpoint"), e.getMessage());
        }
        // With a scheme, a GPTQ checkpoint is quantized from its exact float weights like any other.
        try (Checkpoint in = Checkpoint.open(TestModels.dir(GptqFixtures.MODEL))) {
            CheckpointQuantizer.Report r = CheckpointQuantizer.quantize(in, tmp.resolve("q8.arica"),
                    CheckpointQuantizer.Options.of(dev.arica.formats.quant.QuantLayout.of(Scheme.Q8_0)), Progress.NONE);
            assertEquals(12, r.quantizedCount());
            assertNotNull(r.tensors().getFirst());
        }
        assertNull(asStored().layout());
    }
}
