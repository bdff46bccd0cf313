package dev.arica.formats.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.Json;
import dev.arica.formats.testing.Stories260K;
import dev.arica.formats.testing.TestModels;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The bundled reference checkpoints described: their hyper-parameters as the transformers code reads them. */
class FamiliesTest {

    static ModelDescription describe(String model) throws IOException {
        try (Checkpoint c = Checkpoint.open(TestModels.dir(model))) {
            return ModelDescription.of(c, "test");
        }
    }

    @Test
    void gemma2() throws IOException {
        ModelDescription m = describe("tiny-gemma2");
        DecoderConfig c = m.decoder();
        assertEquals("gemma2", m.family().id());
        assertEquals(List.of(72, 192, 4, 4, 2, 24, 256), List.of(c.hidden(), c.intermediate(), c.layers(), c.heads(),
                c.kvHeads(), c.headDim(), c.vocab()));
        assertEquals(1 / Math.sqrt(18), c.attentionScale(), 0, "query_pre_attn_scalar, not head_dim");
        assertEquals(50, c.attentionSoftCap());
        assertEquals(30, c.finalSoftCap());
        assertEquals((float) Math.sqrt(72), c.embeddingScale(), 0, "rounded to float32");
        assertEquals(16, c.slidingWindow());
        assertEquals(List.of(true, false, true, false), c.slidingLayers(), "even layers slide");
        assertEquals(DecoderConfig.Norm.RMS_OFFSET, c.norm());
        assertEquals(DecoderConfig.Activation.GELU_TANH, c.activation());
        assertTrue(c.tied());
        assertEquals(List.of(1, 107), c.eosTokenIds());
        assertEquals(2, c.bosTokenId());
        assertEquals(2 + 4 * 11, m.tensors().specs().size(), "embedding, final norm and eleven tensors a layer");
        assertEquals("model.embed_tokens.weight", m.tensors().head().name(), "tied head");
    }

    @Test
    void falcon7bLayout() throws IOException {
        ModelDescription m = describe("tiny-falcon");
        DecoderConfig c = m.decoder();
        assertEquals("falcon", m.family().id());
        assertEquals(1, c.kvHeads(), "multi_query: one kv head whatever num_kv_heads says");
        assertTrue(c.parallel());
        assertEquals(DecoderConfig.Norm.LAYER, c.norm());
        assertEquals(DecoderConfig.Activation.GELU_EXACT, c.activation());
        assertEquals("lm_head.weight", m.tensors().head().name(), "stored, so used");
        assertTrue(m.tensors().find(Role.MLP_NORM, 0).isEmpty(), "one input norm feeds attention and MLP");
        QkvLayout l = m.tensors().qkv().orElseThrow();
        assertEquals(96, l.width());
        // _split_heads: view(T, heads + 2, head_dim): q heads, then k, then v.
        assertEquals(16 * 3 + 5, l.queryRow(3, 5));
        assertEquals(64 + 7, l.keyRow(0, 7));
        assertEquals(80 + 7, l.valueRow(0, 7));
    }

    @Test
    void gpt2WithoutPrefix() throws IOException {
        ModelDescription m = describe("tiny-gpt2");
        DecoderConfig c = m.decoder();
        assertEquals(List.of(64, 256, 3, 4, 4, 16, 384, 128), List.of(c.hidden(), c.intermediate(), c.layers(), c.heads(),
                c.kvHeads(), c.headDim(), c.vocab(), c.maxPositions()));
        assertEquals(DecoderConfig.Positions.LEARNED, c.positions());
        assertEquals(Orientation.IN_OUT, m.tensors().get(Role.QKV, 0).orientation());
        assertEquals(192, m.tensors().get(Role.QKV, 0).outFeatures());
        assertEquals("wte.weight", m.tensors().head().name());
        assertTrue(m.tensors().byName("h.0.attn.bias").isEmpty(), "the mask buffer is not a weight");
        QkvLayout l = m.tensors().qkv().orElseThrow();
        assertEquals(64 + 16 * 2 + 1, l.keyRow(2, 1), "q | k | v blocks of n_embd");
        assertEquals(128 + 16 * 2 + 1, l.valueRow(2, 1));
    }

    @Test
    void gpt2WithTheTransformerPrefixAndFalcon40bGroups() throws IOException {
        ObjectNode gpt2 = Json.readObjectFile(TestModels.dir("tiny-gpt2").resolve("config.json"));
        Map<String, TensorInfo> prefixed = new LinkedHashMap<>();
        for (TensorSpec t : Gpt2Family.INSTANCE.tensors(Gpt2Family.INSTANCE.config(new ConfigFields(Path.of("c"), gpt2),
                new Family.TokenIds(null, List.of())), java.util.Set.of()).specs()) {
            prefixed.put("transformer." + t.name(), new TensorInfo("transformer." + t.name(), dev.arica.formats.DType.F32,
                    t.shape()));
        }
        assertEquals("transformer.wte.weight",
                ModelDescription.of(Path.of("m"), new ConfigFields(Path.of("c"), gpt2), null, prefixed, "").tensors().head().name());

        ObjectNode f = Json.MAPPER.createObjectNode().put("model_type", "falcon").put("new_decoder_architecture", true)
                .put("hidden_size", 64).put("num_attention_heads", 8).put("num_kv_heads", 2).put("num_hidden_layers", 1)
                .put("vocab_size", 10);
        DecoderConfig c = FalconFamily.INSTANCE.config(new ConfigFields(Path.of("c"), f), new Family.TokenIds(null, List.of()));
        assertEquals(2, c.kvHeads());
        QkvLayout l = FalconFamily.INSTANCE.tensors(c, java.util.Set.of()).qkv().orElseThrow();
        // view(T, kv, heads / kv + 2, head_dim): group 1 (rows 48..95) holds query heads 4..7, then its k and v.
        assertEquals(6 * 8, l.queryRow(4, 0));
        assertEquals(6 * 8 + 4 * 8, l.keyRow(1, 0));
        assertEquals(6 * 8 + 5 * 8, l.valueRow(1, 0));
        assertEquals(8 * (8 + 2 * 2), l.width());
    }

    @Test
    void stories260KIsLlama() throws IOException {
        try (Checkpoint c = Checkpoint.open(Stories260K.checkpoint())) {
            ModelDescription m = ModelDescription.of(c, "");
            assertEquals("llama", m.family().id());
            assertEquals(List.of(2, 1), m.config().eosTokenIds(), "generation_config's list");
            assertFalse(m.decoder().anySliding());
        }
    }

    @Test
    void aricateIsARecurrentFamilyWithItsRolesAndGateBlocks() throws IOException {
        ModelDescription m = describe("tiny-aricate");
        assertEquals("aricate", m.family().id());
        assertFalse(m.transformer());
        RecurrentConfig c = (RecurrentConfig) m.config();
        assertEquals(List.of(518, 48, 64, 2, 32, 128), List.of(c.vocab(), c.embedding(), c.hidden(), c.layers(),
                c.attentionDim(), c.maxPositions()));
        assertEquals(List.of(0, 1, 2), List.of(c.padTokenId(), c.unkTokenId(), c.sepTokenId()));
        assertEquals(List.of(3), c.eosTokenIds());
        assertEquals(null, c.bosTokenId());
        assertEquals(1 + 4 * 2 + 5, m.tensors().specs().size(), "embedding, four GRU tensors a layer, attention and output");
        assertEquals(List.of(192L, 48L), toList(m.tensors().get(Role.RNN_INPUT, 0).shape()), "3 gate blocks x E");
        assertEquals(List.of(192L, 64L), toList(m.tensors().get(Role.RNN_INPUT, 1).shape()), "upper layers read H");
        assertEquals("output.weight", m.tensors().head().name());
        assertEquals(List.of(518L, 128L), toList(m.tensors().head().shape()), "[o_t, c_t]");
        assertEquals(Role.Kind.VECTOR, m.tensors().get(Role.ATTENTION_ENERGY).role().kind, "never quantized");
        assertThrows(IllegalStateException.class, m::decoder);
        assertTrue(m.family().notUpscalable().isPresent());

        ObjectNode cfg = Json.readObjectFile(TestModels.dir("tiny-aricate").resolve("config.json"));
        cfg.put("bidirectional", true);
        FormatException e = assertThrows(FormatException.class, () -> AricateFamily.INSTANCE.config(
                new ConfigFields(Path.of("config.json"), cfg), new Family.TokenIds(null, List.of())));
        assertEquals("config.json: bidirectional is true; Aricate is a unidirectional GRU", e.getMessage());
        cfg.remove("bidirectional");
        cfg.remove("attention_dim");
        e = assertThrows(FormatException.class, () -> AricateFamily.INSTANCE.config(new ConfigFields(Path.of("config.json"), cfg),
                new Family.TokenIds(null, List.of())));
        assertTrue(e.getMessage().contains("attention_dim"), e.getMessage());
    }

    @Test
    void encoderConfigurationsTheGraphWouldGetWrongAreRefused() throws IOException {
        ObjectNode bert = Json.readObjectFile(TestModels.dir("tiny-bert").resolve("config.json"));
        bert.put("position_embedding_type", "relative_key");
        FormatException e = assertThrows(FormatException.class, () -> EncoderFamily.BERT.config(
                new ConfigFields(Path.of("config.json"), bert), new Family.TokenIds(null, List.of())));
        assertEquals("config.json: position_embedding_type 'relative_key' is not supported (absolute)", e.getMessage());
        bert.put("position_embedding_type", "absolute");
        bert.put("hidden_act", "relu");
        e = assertThrows(FormatException.class, () -> EncoderFamily.BERT.config(new ConfigFields(Path.of("config.json"), bert),
                new Family.TokenIds(null, List.of())));
        assertEquals("config.json: hidden_act 'relu' is not supported (gelu, gelu_new)", e.getMessage());
        ObjectNode roberta = Json.readObjectFile(TestModels.dir("tiny-roberta").resolve("config.json"));
        roberta.remove("pad_token_id");
        e = assertThrows(FormatException.class, () -> EncoderFamily.ROBERTA.config(
                new ConfigFields(Path.of("config.json"), roberta), new Family.TokenIds(null, List.of())));
        assertEquals("config.json: pad_token_id is missing; roberta numbers its positions from it", e.getMessage());
    }

    private static List<Long> toList(long[] v) {
        return java.util.Arrays.stream(v).boxed().toList();
    }

    @Test
    void unsupportedFamiliesAreNamedWithTheSupportedOnes() {
        ObjectNode cfg = Json.MAPPER.createObjectNode().put("model_type", "bloom");
        FormatException e = assertThrows(FormatException.class, () -> Families.of(new ConfigFields(Path.of("config.json"), cfg),
                "ONNX export"));
        assertEquals("config.json: model_type 'bloom' is not supported by ONNX export (supported: llama, mistral, gemma2, "
                + "gpt2, falcon, aricate, bert, roberta)", e.getMessage());
        ObjectNode arch = Json.MAPPER.createObjectNode();
        arch.putArray("architectures").add("MistralForCausalLM");
        assertEquals("mistral", assertDoesNotThrowFamily(arch));
    }

    @Test
    void aLayerCountAboveTheLimitIsRefusedBeforeAnyPerLayerTableIsBuilt() throws IOException {
        // found writing the config fuzz target, kept in its corpus: 2e9 layers ran DecoderConfig out of memory
        for (String model : List.of("tiny-gemma2", "tiny-falcon", "tiny-gpt2", "tiny-bert", "tiny-aricate")) {
            ObjectNode cfg = Json.readObjectFile(TestModels.dir(model).resolve("config.json"));
            String key = cfg.has("n_layer") ? "n_layer" : cfg.has("num_layers") ? "num_layers" : "num_hidden_layers";
            cfg.put(key, 2_000_000_000);
            ConfigFields f = new ConfigFields(Path.of("config.json"), cfg);
            FormatException e = assertThrows(FormatException.class,
                    () -> Families.of(f, "").describe(f, new Family.TokenIds(null, List.of()), java.util.Set.of()), model);
            assertEquals("config.json: " + key + " is 2000000000, more than the " + ConfigFields.MAX_LAYERS
                    + " layers arica accepts", e.getMessage());
        }
    }

    private static String assertDoesNotThrowFamily(ObjectNode cfg) {
        try {
            return Families.of(new ConfigFields(Path.of("c"), cfg), "").id();
        } catch (FormatException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void tensorsThatDoNotFitTheFamilyAreNamed() throws IOException {
        Map<String, TensorInfo> stored = new LinkedHashMap<>();
        ObjectNode cfg;
        try (Checkpoint c = Checkpoint.open(TestModels.dir("tiny-gemma2"))) {
            c.tensors().forEach(t -> stored.put(t.name(), t));
            cfg = c.config().orElseThrow();
        }
        stored.remove("model.layers.2.post_feedforward_layernorm.weight");
        FormatException e = assertThrows(FormatException.class, () -> ModelDescription.of(Path.of("tiny-gemma2"),
                new ConfigFields(Path.of("tiny-gemma2/config.json"), cfg), null, stored, ""));
        assertEquals("model.layers.2.post_feedforward_layernorm.weight", e.tensor());
        assertEquals("tiny-gemma2: tensor 'model.layers.2.post_feedforward_layernorm.weight': is missing; a gemma2 model "
                + "with this config.json needs it (mlp output norm of layer 2)", e.getMessage());

        stored.clear();
        ObjectNode falcon;
        try (Checkpoint c = Checkpoint.open(TestModels.dir("tiny-falcon"))) {
            c.tensors().forEach(t -> stored.put(t.name(), t));
            falcon = c.config().orElseThrow();
        }
        String qkv = "transformer.h.1.self_attention.query_key_value.weight";
        stored.put(qkv, new TensorInfo(qkv, dev.arica.formats.DType.F32, new long[] {192, 64}));
        FormatException f = assertThrows(FormatException.class, () -> ModelDescription.of(Path.of("tiny-falcon"),
                new ConfigFields(Path.of("tiny-falcon/config.json"), falcon), null, stored, ""));
        assertEquals(qkv, f.tensor());
        assertTrue(f.getMessage().endsWith("has shape [192, 64] but config.json implies [96, 64]"), f.getMessage());
    }

    @Test
    void gemma2LayerTypesOverrideTheEvenLayers() throws IOException {
        ObjectNode cfg = Json.readObjectFile(TestModels.dir("tiny-gemma2").resolve("config.json"));
        cfg.putArray("layer_types").add("full_attention").add("full_attention").add("sliding_attention").add("full_attention");
        DecoderConfig c = Gemma2Family.INSTANCE.config(new ConfigFields(Path.of("c"), cfg), new Family.TokenIds(null, List.of()));
        assertEquals(List.of(false, false, true, false), c.slidingLayers());
        cfg.putArray("layer_types").add("local");
        assertThrows(FormatException.class, () -> Gemma2Family.INSTANCE.config(new ConfigFields(Path.of("c"), cfg),
                new Family.TokenIds(null, List.of())));
    }
}
