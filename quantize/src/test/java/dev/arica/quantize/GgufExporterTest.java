package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.arica.AricaCheckpoint;
import dev.arica.formats.gguf.GgmlType;
import dev.arica.formats.gguf.GgufLlamaModel;
import dev.arica.formats.gguf.GgufTensorNames;
import dev.arica.formats.llama2c.Llama2cCheckpoint;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.formats.testing.GgufTestFile;
import dev.arica.formats.testing.Stories260K;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * GGUF export against llama.cpp's own files of stories260K (its converter's f32, its quantizer's q8_0 and q4_0), and
 * an .arica file's blocks against what lands in the GGUF file.
 */
class GgufExporterTest {

    @TempDir
    Path tmp;

    /** Keys arica writes that llama.cpp's stories260K files lack (both mean what llama.cpp assumes without them). */
    private static final Set<String> EXTRA_KEYS = Set.of("llama.vocab_size", "tokenizer.ggml.unknown_token_id");

    private static GgufTestFile reference(String type) throws IOException {
        return GgufTestFile.read(Stories260K.dir().resolve("gguf/stories260K-" + type + ".gguf"));
    }

    private GgufTestFile export(Checkpoint in, GgmlType type, String name) throws IOException {
        Path out = tmp.resolve(name);
        GgufExporter.export(in, out, new GgufExporter.Options(type, 2), Progress.NONE);
        return GgufTestFile.read(out);
    }

    private GgufTestFile exportStories(GgmlType type) throws IOException {
        try (Llama2cCheckpoint in = Llama2cCheckpoint.open(Stories260K.checkpoint(), null)) {
            return export(in, type, "stories-" + type + ".gguf");
        }
    }

    /** Every key llama.cpp wrote is ours with the same type and value; ours has only the two extra keys besides. */
    private static void assertSameMetadata(GgufTestFile reference, GgufTestFile ours) {
        for (Map.Entry<String, GgufTestFile.Value> e : reference.metadata().entrySet()) {
            assertEquals(e.getValue(), ours.metadata().get(e.getKey()), e.getKey());
        }
        for (String k : ours.metadata().keySet()) {
            assertTrue(reference.metadata().containsKey(k) || EXTRA_KEYS.contains(k), "unexpected key " + k);
        }
    }

    @Test
    void stories260KIsLlamaCppsFileTensorForTensor() throws IOException {
        for (String type : List.of("f32", "q8_0", "q4_0")) {
            GgufTestFile ref = reference(type);
            GgufTestFile ours = exportStories(GgmlType.valueOf(type.toUpperCase()));
            assertSameMetadata(ref, ours);
            // The head is tied: llama.cpp's converter wrote a copy as output.weight, arica lets llama.cpp reuse token_embd.
            assertEquals(Set.of("output.weight"), Set.copyOf(diff(ref.tensors().keySet(), ours.tensors().keySet())), type);
            assertEquals(Set.of(), Set.copyOf(diff(ours.tensors().keySet(), ref.tensors().keySet())), type);
            for (GgufTestFile.TensorInfo t : ours.tensors().values()) {
                // Under q4_0 the tied embedding is quantized as llama.cpp quantizes the head: Q8_0, like its output.weight.
                GgufTestFile.TensorInfo r = type.equals("q4_0") && t.name().equals("token_embd.weight")
                        ? ref.tensor("output.weight") : ref.tensor(t.name());
                assertEquals(r.type(), t.type(), type + " " + t.name());
                assertArrayEquals(r.dims(), t.dims(), type + " " + t.name());
                assertArrayEquals(r.data(), t.data(), type + " " + t.name() + ": bytes");
            }
            long quantized = ours.tensors().values().stream().filter(t -> t.type() == 8 || t.type() == 2).count();
            assertEquals(type.equals("f32") ? 0 : 31, quantized, type);
            assertEquals(type.equals("f32") ? 0 : 5, ours.tensors().values().stream().filter(t -> t.type() == 1).count(),
                    type + ": ffn_down (rows of 172) falls back to F16");
        }
    }

    private static List<String> diff(Set<String> a, Set<String> b) {
        return a.stream().filter(x -> !b.contains(x)).toList();
    }

    @Test
    void aricaBlocksAreWrittenAsStored() throws IOException {
        for (Scheme scheme : List.of(Scheme.Q8_0, Scheme.Q4_0)) {
            Path arica = tmp.resolve("stories-" + scheme.id() + ".arica");
            try (Llama2cCheckpoint in = Llama2cCheckpoint.open(Stories260K.checkpoint(), null)) {
                CheckpointQuantizer.Options o = CheckpointQuantizer.Options.of(QuantLayout.of(scheme));
                // q8_0: every 2-D weight quantized, as llama.cpp does; q4_0: the embedding kept float (arica's default).
                o = new CheckpointQuantizer.Options(o.layout(), new TensorSelection(List.of(), scheme == Scheme.Q8_0, false),
                        null, 0, Map.of(), "test", "", 2, null);
                CheckpointQuantizer.quantize(in, arica, o, Progress.NONE);
            }
            GgufTestFile ref = reference(scheme.id());
            try (AricaCheckpoint in = AricaCheckpoint.open(arica); Arena arena = Arena.ofConfined()) {
                assertEquals(GgmlType.of(scheme).orElseThrow(), GgufExporter.defaultType(in));
                GgufTestFile ours = export(in, null, "arica-" + scheme.id() + ".gguf");
                assertSameMetadata(ref, ours);
                GgufLlamaModel model = GgufLlamaModel.of(ModelDescription.of(in, ""), in.path());
                int asStored = 0;
                for (GgufLlamaModel.Mapped m : model.tensors()) {
                    GgufTestFile.TensorInfo t = ours.tensor(m.name());
                    var stored = in.quantized(m.spec().name());
                    if (stored.isEmpty() || m.spec().name().contains("down_proj")) {
                        continue;
                    }
                    // The .arica rows, moved to GGUF's row order for q and k, block for block.
                    MemorySegment rows = in.stored(m.spec().name(), arena);
                    long rowBytes = stored.get().rowBytes(m.spec().shape()[1]);
                    byte[] expected = new byte[Math.toIntExact(rows.byteSize())];
                    for (int g = 0; g < expected.length / rowBytes; g++) {
                        int src = m.rowOrder() == null ? g : m.rowOrder()[g];
                        MemorySegment.copy(rows, ValueLayout.JAVA_BYTE, src * rowBytes, expected, (int) (g * rowBytes),
                                (int) rowBytes);
                    }
                    assertArrayEquals(expected, t.data(), scheme + " " + m.name() + ": as stored");
                    asStored++;
                }
                assertEquals(scheme == Scheme.Q8_0 ? 31 : 30, asStored, scheme + ": q, k, v, o, gate, up of 5 layers (and the embedding)");
                for (GgufTestFile.TensorInfo t : ours.tensors().values()) {
                    if (t.name().contains("ffn_down")) {
                        assertEquals(1, t.type(), "rows of 172 cannot be Q8_0/Q4_0 blocks: F16");
                        assertF16OfStored(in, t, arena);
                    } else {
                        // Quantized from the same floats as llama.cpp, or stored by arica's GGML-exact quantizer.
                        GgufTestFile.TensorInfo r = scheme == Scheme.Q4_0 && t.name().equals("token_embd.weight")
                                ? ref.tensor("output.weight") : ref.tensor(t.name());
                        assertArrayEquals(r.data(), t.data(), scheme + " " + t.name() + " is llama.cpp's");
                    }
                }
            }
        }
    }

    /** A padded-row tensor written F16: the stored values dequantized, rounded to f16. */
    private static void assertF16OfStored(AricaCheckpoint in, GgufTestFile.TensorInfo t, Arena arena) throws IOException {
        String hf = GgufTensorNames.hfName(t.name()).orElseThrow();
        QuantLayout layout = in.quantized(hf).orElseThrow();
        long rows = t.shape()[0], cols = t.shape()[1];
        MemorySegment f32 = arena.allocate(rows * cols * 4);
        Quantizer.of(layout).dequantize(in.stored(hf, arena), rows, cols, f32);
        ByteBuffer b = ByteBuffer.wrap(t.data()).order(ByteOrder.LITTLE_ENDIAN);
        for (long i = 0; i < rows * cols; i++) {
            assertEquals(Float.floatToFloat16(f32.getAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, i)), b.getShort((int) (2 * i)),
                    t.name() + "[" + i + "]");
        }
    }

    @Test
    void storedBlocksAreNeverRequantized() throws IOException {
        Path arica = tmp.resolve("q4.arica");
        Path int8 = tmp.resolve("int8.arica");
        try (Llama2cCheckpoint in = Llama2cCheckpoint.open(Stories260K.checkpoint(), null)) {
            CheckpointQuantizer.quantize(in, arica, CheckpointQuantizer.Options.of(QuantLayout.of(Scheme.Q4_0)), Progress.NONE);
            CheckpointQuantizer.quantize(in, int8, CheckpointQuantizer.Options.of(QuantLayout.of(Scheme.INT8)), Progress.NONE);
        }
        Path out = tmp.resolve("x.gguf");
        try (AricaCheckpoint in = AricaCheckpoint.open(arica)) {
            FormatException e = assertThrows(FormatException.class,
                    () -> GgufExporter.export(in, out, GgufExporter.Options.of(GgmlType.Q8_0), Progress.NONE));
            assertTrue(e.getMessage().contains("quantize it twice"), e.getMessage());
            // Floats are what a float type asks for: the stored values, exactly.
            GgufTestFile f16 = export(in, GgmlType.F16, "f16.gguf");
            assertEquals(1, f16.tensor("blk.0.attn_v.weight").type());
        }
        try (AricaCheckpoint in = AricaCheckpoint.open(int8)) {
            assertEquals(GgmlType.F16, GgufExporter.defaultType(in));
            FormatException e = assertThrows(FormatException.class,
                    () -> GgufExporter.export(in, out, GgufExporter.Options.of(GgmlType.Q8_0), Progress.NONE));
            assertTrue(e.getMessage().contains("int8"), e.getMessage());
        }
        assertFalse(Files.exists(out));
        assertNoTemporaries();
    }

    @Test
    void aNanIsRefusedAndNothingIsLeft() throws IOException {
        byte[] bytes = Files.readAllBytes(Stories260K.checkpoint());
        // The first weight of layer 0's query projection: after the header (28 bytes), the embedding and the norms.
        int at = 28 + 4 * (512 * 64 + 5 * 64 + 3);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putFloat(at, Float.NaN);
        Path bad = tmp.resolve("bad.bin");
        Files.write(bad, bytes);
        Path out = tmp.resolve("bad.gguf");
        try (Llama2cCheckpoint in = Llama2cCheckpoint.open(bad, Stories260K.tokenizer())) {
            QuantizationException e = assertThrows(QuantizationException.class,
                    () -> GgufExporter.export(in, out, GgufExporter.Options.of(GgmlType.Q8_0), Progress.NONE));
            assertTrue(e.getMessage().contains("model.layers.0.self_attn.q_proj.weight"), e.getMessage());
        }
        assertFalse(Files.exists(out));
        assertNoTemporaries();
    }

    private void assertNoTemporaries() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            List<String> left = s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".arica-tmp-")).toList();
            assertEquals(List.of(), left);
        }
    }

    @Test
    void theResultSaysWhatEachRuleGave() throws IOException {
        try (Llama2cCheckpoint in = Llama2cCheckpoint.open(Stories260K.checkpoint(), null)) {
            GgufExporter.Result r = GgufExporter.export(in, tmp.resolve("q4.gguf"), GgufExporter.Options.of(GgmlType.Q4_0),
                    Progress.NONE);
            Map<GgmlType, Integer> counts = new HashMap<>(r.typeCounts());
            assertEquals(Map.of(GgmlType.Q8_0, 1, GgmlType.F32, 11, GgmlType.Q4_0, 30, GgmlType.F16, 5), counts);
            assertEquals("llama", r.tokenizer());
            assertEquals(GgufExporter.How.QUANTIZED, r.tensors().getFirst().how());
            assertTrue(r.tensors().getFirst().reason().contains("Q6_K"), r.tensors().getFirst().reason());
        }
    }
}
