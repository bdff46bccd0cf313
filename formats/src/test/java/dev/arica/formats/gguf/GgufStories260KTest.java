package dev.arica.formats.gguf;

import static dev.arica.formats.TestSupport.bytesOf;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.Json;
import dev.arica.formats.llama2c.RotaryPermutation;
import dev.arica.formats.quant.Scheme;
import dev.arica.formats.testing.Stories260K;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The bundled stories260K GGUF files, written by llama.cpp (f32, and Q8_0 and Q4_0 from its quantizer, with the
 * tensors whose rows are not whole blocks left F16), against the llama2.c original that arica already imports.
 */
class GgufStories260KTest {

    private static float[] floats(Tensor t) {
        MemorySegment all = MemorySegment.ofArray(bytesOf(t));
        float[] out = new float[(int) t.info().elements()];
        for (int i = 0; i < out.length; i++) {
            out[i] = all.getAtIndex(FloatCast.F32_LE, i);
        }
        return out;
    }

    @Test
    void theF32FileHoldsExactlyTheLlama2cWeightsUnderHfNames() throws Exception {
        try (Checkpoint gguf = Checkpoint.open(Stories260K.gguf("f32"));
                Checkpoint l2c = Checkpoint.open(Stories260K.checkpoint())) {
            GgufCheckpoint g = assertInstanceOf(GgufCheckpoint.class, gguf);
            assertEquals("gguf", g.format());
            assertEquals(3, g.file().version());
            assertEquals(32, g.file().alignment());
            Map<String, TensorInfo> ours = gguf.tensors().stream().collect(Collectors.toMap(TensorInfo::name, t -> t));
            for (TensorInfo t : l2c.tensors()) {
                TensorInfo o = ours.get(t.name());
                assertEquals(t, o, "tensor " + t.name());
                assertArrayEquals(bytesOf(l2c.tensor(t.name())), bytesOf(gguf.tensor(t.name())), t.name());
            }
            // llama.cpp's writer stored the tied head as output.weight: the same values.
            assertEquals(l2c.tensors().size() + 1, gguf.tensors().size());
            assertArrayEquals(bytesOf(l2c.tensor("model.embed_tokens.weight")), bytesOf(gguf.tensor("lm_head.weight")));
            assertEquals("blk.2.attn_q.weight", g.ggufName("model.layers.2.self_attn.q_proj.weight"));
            assertEquals(GgmlType.F32, g.ggmlType("model.layers.2.self_attn.q_proj.weight"));
            // Mapped, never copied: a float tensor in stored order has its file range; q and k rows are reordered.
            assertTrue(gguf.location("model.layers.0.mlp.up_proj.weight").isPresent());
            assertTrue(gguf.location("model.layers.0.self_attn.k_proj.weight").isEmpty());
            assertEquals(64, gguf.tensor("model.layers.0.self_attn.q_proj.weight").parts().size());
            assertTrue(g.quantizedStorage("model.layers.0.mlp.up_proj.weight").isEmpty());
        }
    }

    @Test
    void configAndSideFilesComeFromTheMetadata() throws Exception {
        try (Checkpoint gguf = Checkpoint.open(Stories260K.gguf("f32"))) {
            ObjectNode c = gguf.config().orElseThrow();
            assertEquals("llama", c.get("model_type").asText());
            assertEquals("LlamaForCausalLM", c.get("architectures").get(0).asText());
            Map<String, Object> expected = Map.of("hidden_size", 64, "intermediate_size", 172, "num_hidden_layers", 5,
                    "num_attention_heads", 8, "num_key_value_heads", 4, "head_dim", 8, "vocab_size", 512,
                    "max_position_embeddings", 512, "bos_token_id", 1, "eos_token_id", 2);
            expected.forEach((k, v) -> assertEquals(v, c.get(k).intValue(), k));
            assertEquals(1e-5, c.get("rms_norm_eps").doubleValue(), 0);
            assertEquals(10000.0, c.get("rope_theta").doubleValue(), 0);
            assertFalse(c.get("tie_word_embeddings").booleanValue(), "output.weight is stored");
            assertFalse(c.has("rope_scaling"));
            List<String> files = gguf.auxFiles().stream().map(AuxFile::name).toList();
            assertEquals(List.of("tokenizer.json", "generation_config.json"), files);
            JsonNode gen = Json.MAPPER.readTree(gguf.auxFiles().get(1).bytes());
            assertEquals(1, gen.get("bos_token_id").intValue());
            assertEquals(2, gen.get("eos_token_id").intValue());
            Map<String, String> meta = ((GgufCheckpoint) gguf).ggufMetadata();
            assertEquals("llama", meta.get("general.architecture"));
            assertEquals("[512 x string]", meta.get("tokenizer.ggml.tokens"));
            assertEquals("1.0E-5", meta.get("llama.attention.layer_norm_rms_epsilon"));
            assertEquals(Map.of("format", "pt"), gguf.metadata(), "what a converted safetensors file says of itself");
        }
    }

    @Test
    void theRebuiltTokenizerIsSentencepieceBpeWithByteFallback() throws Exception {
        try (Checkpoint gguf = Checkpoint.open(Stories260K.gguf("f32"))) {
            JsonNode t = Json.MAPPER.readTree(gguf.auxFiles().getFirst().bytes());
            JsonNode model = t.get("model");
            assertEquals("BPE", model.get("type").asText());
            assertTrue(model.get("byte_fallback").booleanValue());
            assertEquals("<unk>", model.get("unk_token").asText());
            assertEquals(512, model.get("vocab").size());
            assertEquals(259, model.get("vocab").get("\u2581t").intValue());
            // The first merges are those of the highest-scoring pieces: "▁t" (score 0) then "he" (-1).
            assertEquals("[\"\u2581\",\"t\"]", model.get("merges").get(0).toString());
            assertEquals("[\"h\",\"e\"]", model.get("merges").get(1).toString());
            assertEquals("TemplateProcessing", t.get("post_processor").get("type").asText());
            Set<String> special = java.util.stream.StreamSupport.stream(t.get("added_tokens").spliterator(), false)
                    .filter(a -> a.get("special").booleanValue()).map(a -> a.get("content").asText())
                    .collect(Collectors.toSet());
            assertEquals(Set.of("<unk>", "\n<s>\n", "\n</s>\n"), special);
        }
    }

    @Test
    void q8_0BlocksAreArica_q8_0RowsAndDequantizeNearTheFloats() throws Exception {
        try (GgufCheckpoint q = GgufCheckpoint.open(Stories260K.gguf("q8_0"));
                GgufCheckpoint f = GgufCheckpoint.open(Stories260K.gguf("f32"));
                Arena arena = Arena.ofConfined()) {
            assertEquals("Q8_0 x 32, F32 x 11, F16 x 5", q.typeSummary());
            String down = "model.layers.0.mlp.down_proj.weight";
            assertEquals(GgmlType.F16, q.ggmlType(down), "172 columns are not whole blocks: llama.cpp kept F16");
            assertEquals(DType.F16, q.tensors().stream().filter(t -> t.name().equals(down)).findFirst().orElseThrow().dtype());
            for (TensorInfo t : q.tensors()) {
                GgmlType type = q.ggmlType(t.name());
                if (type != GgmlType.Q8_0) {
                    assertTrue(q.quantizedStorage(t.name()).isEmpty(), t.name());
                    continue;
                }
                assertEquals(DType.F32, t.dtype());
                assertEquals(Scheme.Q8_0, q.quantizedStorage(t.name()).orElseThrow().layout().scheme());
                MemorySegment stored = q.stored(t.name(), arena);
                assertEquals(t.shape()[0] * t.shape()[1] / 32 * 34, stored.byteSize());
                // Stored rows in HF order: q and k rows are moved whole, block bytes unchanged.
                GgufTensor raw = q.file().tensors().stream().filter(x -> x.name().equals(q.ggufName(t.name())))
                        .findFirst().orElseThrow();
                MemorySegment file = q.file().data(raw);
                int[] rowMap = rowMap(q, t);
                long rowBytes = raw.rowBytes();
                for (int r = 0; r < t.shape()[0]; r++) {
                    assertEquals(-1, file.asSlice(rowMap[r] * rowBytes, rowBytes).mismatch(stored.asSlice(r * rowBytes,
                            rowBytes)), t.name() + " row " + r);
                }
                // Dequantized values: within about half a step of the f32 file's (d = amax / 127 of each block, then fp16).
                float[] deq = floats(q.tensor(t.name()));
                float[] ref = floats(f.tensor(t.name()));
                for (int i = 0; i < ref.length; i += 32) {
                    float amax = 0;
                    for (int j = i; j < i + 32; j++) {
                        amax = Math.max(amax, Math.abs(ref[j]));
                    }
                    for (int j = i; j < i + 32; j++) {
                        assertEquals(ref[j], deq[j], amax / 127 * 0.6 + 1e-6, t.name() + " value " + j);
                    }
                }
            }
        }
    }

    /** The stored row of each HF row: the rotary permutation for q and k, else the identity. */
    private static int[] rowMap(GgufCheckpoint c, TensorInfo t) {
        String g = c.ggufName(t.name());
        int rows = (int) t.shape()[0];
        if (GgufTensorNames.isQuery(g)) {
            return RotaryPermutation.hfFromLlama2c(8, rows / 8);
        }
        if (GgufTensorNames.isKey(g)) {
            return RotaryPermutation.hfFromLlama2c(4, rows / 4);
        }
        int[] id = new int[rows];
        for (int i = 0; i < rows; i++) {
            id[i] = i;
        }
        return id;
    }

    @Test
    void q4_0FileMixesQ4_0WithAQ8_0HeadAndF16Rows() throws Exception {
        try (GgufCheckpoint q = GgufCheckpoint.open(Stories260K.gguf("q4_0"))) {
            assertEquals(GgmlType.Q8_0, q.ggmlType("lm_head.weight"));
            assertEquals(GgmlType.Q4_0, q.ggmlType("model.embed_tokens.weight"));
            assertEquals(Scheme.Q4_0, q.quantizedStorage("model.layers.1.self_attn.v_proj.weight").orElseThrow().layout()
                    .scheme());
            Map<GgmlType, Integer> counts = new HashMap<>();
            for (TensorInfo t : q.tensors()) {
                counts.merge(q.ggmlType(t.name()), 1, Integer::sum);
                Tensor x = q.tensor(t.name());
                assertEquals(t.byteSize(), x.parts().stream().mapToLong(MemorySegment::byteSize).sum());
            }
            assertEquals(Map.of(GgmlType.Q4_0, 31, GgmlType.Q8_0, 1, GgmlType.F32, 11, GgmlType.F16, 5), counts);
            assertTrue(Files.size(Stories260K.gguf("q4_0")) < Files.size(Stories260K.gguf("q8_0")));
        }
    }
}
