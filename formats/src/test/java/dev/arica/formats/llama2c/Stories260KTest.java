package dev.arica.formats.llama2c;

import static dev.arica.formats.TestSupport.bytesOf;
import static dev.arica.formats.TestSupport.listNames;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.Converter;
import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.io.Json;
import dev.arica.formats.safetensors.SafetensorsFile;
import dev.arica.formats.testing.Stories260K;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Import of the real stories260K checkpoint (bundled: testdata/models/README.md). Offsets into the
 * raw file are computed here from the README's layout, independently of the importer.
 */
class Stories260KTest {

    static final int DIM = 64, HIDDEN = 172, LAYERS = 5, HEADS = 8, KV_HEADS = 4, VOCAB = 512, SEQ = 512;
    static final int HEAD = DIM / HEADS, KV_DIM = DIM * KV_HEADS / HEADS;

    static Path model;
    static Path tokenizer;
    static byte[] raw;

    @BeforeAll
    static void read() throws Exception {
        model = Stories260K.checkpoint();
        tokenizer = Stories260K.tokenizer();
        raw = Files.readAllBytes(model);
    }

    /** Float offsets (after the 28-byte header) of each stacked array, from the README. */
    static final long EMBED = 0;
    static final long RMS_ATT = EMBED + (long) VOCAB * DIM;
    static final long WQ = RMS_ATT + (long) LAYERS * DIM;
    static final long WK = WQ + (long) LAYERS * DIM * DIM;
    static final long WV = WK + (long) LAYERS * KV_DIM * DIM;
    static final long WO = WV + (long) LAYERS * KV_DIM * DIM;
    static final long RMS_FFN = WO + (long) LAYERS * DIM * DIM;
    static final long W1 = RMS_FFN + (long) LAYERS * DIM;
    static final long W2 = W1 + (long) LAYERS * HIDDEN * DIM;
    static final long W3 = W2 + (long) LAYERS * DIM * HIDDEN;
    static final long RMS_FINAL = W3 + (long) LAYERS * HIDDEN * DIM;
    static final long END = RMS_FINAL + DIM + 2L * SEQ * (HEAD / 2);

    static byte[] floats(long floatOffset, long count) {
        int from = Math.toIntExact(28 + 4 * floatOffset);
        return Arrays.copyOfRange(raw, from, Math.toIntExact(from + 4 * count));
    }

    /** Expected HF tensors in llama2.c (unpermuted) row order, from the raw file. */
    static Map<String, byte[]> sourceTensors() {
        Map<String, byte[]> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", floats(EMBED, (long) VOCAB * DIM));
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l + ".";
            t.put(p + "input_layernorm.weight", floats(RMS_ATT + (long) l * DIM, DIM));
            t.put(p + "self_attn.q_proj.weight", floats(WQ + (long) l * DIM * DIM, (long) DIM * DIM));
            t.put(p + "self_attn.k_proj.weight", floats(WK + (long) l * KV_DIM * DIM, (long) KV_DIM * DIM));
            t.put(p + "self_attn.v_proj.weight", floats(WV + (long) l * KV_DIM * DIM, (long) KV_DIM * DIM));
            t.put(p + "self_attn.o_proj.weight", floats(WO + (long) l * DIM * DIM, (long) DIM * DIM));
            t.put(p + "post_attention_layernorm.weight", floats(RMS_FFN + (long) l * DIM, DIM));
            t.put(p + "mlp.gate_proj.weight", floats(W1 + (long) l * HIDDEN * DIM, (long) HIDDEN * DIM));
            t.put(p + "mlp.up_proj.weight", floats(W3 + (long) l * HIDDEN * DIM, (long) HIDDEN * DIM));
            t.put(p + "mlp.down_proj.weight", floats(W2 + (long) l * DIM * HIDDEN, (long) DIM * HIDDEN));
        }
        t.put("model.norm.weight", floats(RMS_FINAL, DIM));
        return t;
    }

    static byte[] unpermute(byte[] hf, int heads) {
        int[] inverse = RotaryPermutation.llama2cFromHf(heads, HEAD);
        int rowBytes = 4 * DIM;
        byte[] out = new byte[hf.length];
        for (int r = 0; r < inverse.length; r++) {
            System.arraycopy(hf, inverse[r] * rowBytes, out, r * rowBytes, rowBytes);
        }
        return out;
    }

    @Test
    void fileSizeMatchesTheReadmeLayout() {
        assertEquals(1_056_540, raw.length);
        assertEquals(raw.length, 28 + 4 * END, "the README's layout accounts for every byte (tied classifier)");
    }

    @Test
    void tensorNamesShapesAndHeader() throws Exception {
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(model, null)) {
            assertEquals("llama2c", c.format());
            Llama2cCheckpoint.Header h = c.header();
            assertEquals(new Llama2cCheckpoint.Header(DIM, HIDDEN, LAYERS, HEADS, KV_HEADS, VOCAB, SEQ, true), h);
            assertEquals(HEAD, h.headSize());
            assertEquals(KV_DIM, h.kvDim());

            List<TensorInfo> expected = new ArrayList<>();
            expected.add(new TensorInfo("model.embed_tokens.weight", DType.F32, new long[] {VOCAB, DIM}));
            for (int l = 0; l < LAYERS; l++) {
                String p = "model.layers." + l + ".";
                expected.add(new TensorInfo(p + "input_layernorm.weight", DType.F32, new long[] {DIM}));
                expected.add(new TensorInfo(p + "self_attn.q_proj.weight", DType.F32, new long[] {DIM, DIM}));
                expected.add(new TensorInfo(p + "self_attn.k_proj.weight", DType.F32, new long[] {KV_DIM, DIM}));
                expected.add(new TensorInfo(p + "self_attn.v_proj.weight", DType.F32, new long[] {KV_DIM, DIM}));
                expected.add(new TensorInfo(p + "self_attn.o_proj.weight", DType.F32, new long[] {DIM, DIM}));
                expected.add(new TensorInfo(p + "post_attention_layernorm.weight", DType.F32, new long[] {DIM}));
                expected.add(new TensorInfo(p + "mlp.gate_proj.weight", DType.F32, new long[] {HIDDEN, DIM}));
                expected.add(new TensorInfo(p + "mlp.up_proj.weight", DType.F32, new long[] {HIDDEN, DIM}));
                expected.add(new TensorInfo(p + "mlp.down_proj.weight", DType.F32, new long[] {DIM, HIDDEN}));
            }
            expected.add(new TensorInfo("model.norm.weight", DType.F32, new long[] {DIM}));
            assertEquals(expected, c.tensors());
            assertTrue(c.tensors().stream().noneMatch(t -> t.name().startsWith("lm_head")), "tied: no lm_head");
            assertEquals(List.of(model), c.dataFiles());
            assertEquals(Map.of("format", "pt"), c.metadata());
        }
    }

    @Test
    void parameterCountMatchesAHandCount() throws Exception {
        long perLayer = 2 * 64 + 64 * 64 * 2 + 32 * 64 * 2 + 3 * 172 * 64;
        long expected = 512 * 64 + 5 * perLayer + 64;
        assertEquals(260_032, expected);
        try (Checkpoint c = Checkpoint.open(model)) {
            assertEquals(expected, c.parameterCount());
            assertEquals(4 * expected, c.dataBytes());
        }
    }

    @Test
    void configFields() throws Exception {
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(model, null)) {
            ObjectNode cfg = c.config().orElseThrow();
            assertEquals("[\"LlamaForCausalLM\"]", cfg.get("architectures").toString());
            assertEquals("llama", cfg.get("model_type").textValue());
            assertEquals(DIM, cfg.get("hidden_size").intValue());
            assertEquals(HIDDEN, cfg.get("intermediate_size").intValue());
            assertEquals(LAYERS, cfg.get("num_hidden_layers").intValue());
            assertEquals(HEADS, cfg.get("num_attention_heads").intValue());
            assertEquals(KV_HEADS, cfg.get("num_key_value_heads").intValue());
            assertEquals(HEAD, cfg.get("head_dim").intValue());
            assertEquals(VOCAB, cfg.get("vocab_size").intValue());
            assertEquals(SEQ, cfg.get("max_position_embeddings").intValue());
            assertEquals(1e-5, cfg.get("rms_norm_eps").doubleValue());
            assertEquals(10000.0, cfg.get("rope_theta").doubleValue());
            assertEquals("silu", cfg.get("hidden_act").textValue());
            assertTrue(cfg.get("tie_word_embeddings").booleanValue());
            assertEquals(1, cfg.get("bos_token_id").intValue());
            assertEquals(2, cfg.get("eos_token_id").intValue());
            assertEquals("float32", cfg.get("torch_dtype").textValue());
            // config() hands out a copy.
            cfg.put("vocab_size", 1);
            assertEquals(VOCAB, c.config().orElseThrow().get("vocab_size").intValue());
        }
    }

    @Test
    void tokenizerAndGenerationConfigTravel() throws Exception {
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(model, null)) {
            Map<String, AuxFile> aux = new LinkedHashMap<>();
            c.auxFiles().forEach(a -> aux.put(a.name(), a));
            assertEquals(List.of(Llama2cCheckpoint.TOKENIZER_NAME, "generation_config.json"), List.copyOf(aux.keySet()));
            assertEquals(tokenizer, aux.get(Llama2cCheckpoint.TOKENIZER_NAME).source().toAbsolutePath().normalize());
            JsonNode gen = Json.parse(null, aux.get("generation_config.json").content(), "generation config");
            assertEquals("[2,1]", gen.get("eos_token_id").toString());
            assertEquals(1, gen.get("bos_token_id").intValue());
        }
        Llama2cTokenizer tok = Llama2cTokenizer.read(tokenizer, VOCAB);
        assertEquals(VOCAB, tok.vocabSize());
        assertEquals(7, tok.maxTokenLength());
        assertEquals("<unk>", new String(tok.piece(0), StandardCharsets.UTF_8));
        assertEquals("<s>", new String(tok.piece(1), StandardCharsets.UTF_8).strip());
        assertEquals("</s>", new String(tok.piece(2), StandardCharsets.UTF_8).strip());
        assertEquals("<0x00>", new String(tok.piece(3), StandardCharsets.UTF_8));
    }

    @Test
    void projectionRowsFollowTheRotaryPermutation() throws Exception {
        int[] qMap = RotaryPermutation.hfFromLlama2c(HEADS, HEAD);
        int[] kMap = RotaryPermutation.hfFromLlama2c(KV_HEADS, HEAD);
        int rowBytes = 4 * DIM;
        try (Llama2cCheckpoint c = Llama2cCheckpoint.open(model, null)) {
            for (int l = 0; l < LAYERS; l++) {
                byte[] q = bytesOf(c.tensor("model.layers." + l + ".self_attn.q_proj.weight"));
                byte[] k = bytesOf(c.tensor("model.layers." + l + ".self_attn.k_proj.weight"));
                int moved = 0;
                for (int r = 0; r < DIM; r++) {
                    byte[] hfRow = Arrays.copyOfRange(q, r * rowBytes, (r + 1) * rowBytes);
                    assertArrayEquals(floats(WQ + (long) l * DIM * DIM + (long) qMap[r] * DIM, DIM), hfRow,
                            "layer " + l + " q_proj row " + r + " = wq row " + qMap[r]);
                    if (!Arrays.equals(hfRow, floats(WQ + (long) l * DIM * DIM + (long) r * DIM, DIM))) {
                        moved++;
                    }
                }
                assertTrue(moved > DIM / 2, "the permutation is applied (" + moved + " rows moved)");
                for (int r = 0; r < KV_DIM; r++) {
                    assertArrayEquals(floats(WK + (long) l * KV_DIM * DIM + (long) kMap[r] * DIM, DIM),
                            Arrays.copyOfRange(k, r * rowBytes, (r + 1) * rowBytes),
                            "layer " + l + " k_proj row " + r + " = wk row " + kMap[r]);
                }
            }
        }
    }

    @Test
    void importConvertAndFlattenKeepsEveryFloat(@TempDir Path tmp) throws Exception {
        Path hf = tmp.resolve("stories260K-hf");
        Converter.Result r;
        try (Checkpoint c = Checkpoint.open(model)) {
            r = Converter.convert(c, hf, new Converter.Options(null, 300_000, false), Progress.NONE);
        }
        assertTrue(r.shards() > 1, "sharded intermediate, got " + r.shards());
        List<String> names = listNames(hf);
        assertTrue(names.contains(HfCheckpoint.INDEX), names.toString());
        assertTrue(names.contains("config.json"), names.toString());
        assertArrayEquals(Files.readAllBytes(tokenizer), Files.readAllBytes(hf.resolve(Llama2cCheckpoint.TOKENIZER_NAME)));
        assertEquals("[2,1]", Json.readObjectFile(hf.resolve("generation_config.json")).get("eos_token_id").toString());
        ObjectNode cfg = Json.readObjectFile(hf.resolve("config.json"));
        assertEquals(KV_HEADS, cfg.get("num_key_value_heads").intValue());
        assertTrue(cfg.get("tie_word_embeddings").booleanValue());

        Path flat = tmp.resolve("stories260K.safetensors");
        try (Checkpoint c = Checkpoint.open(hf)) {
            assertEquals("hf-directory", c.format());
            Converter.convert(c, flat, Converter.Options.defaults(), Progress.NONE);
        }
        Map<String, byte[]> source = sourceTensors();
        try (SafetensorsFile f = SafetensorsFile.open(flat)) {
            assertEquals(List.copyOf(source.keySet()), f.tensors().stream().map(TensorInfo::name).toList());
            for (Map.Entry<String, byte[]> e : source.entrySet()) {
                byte[] got = bytesOf(f.tensor(e.getKey()));
                if (e.getKey().endsWith("q_proj.weight")) {
                    assertFalse(Arrays.equals(e.getValue(), got), "q_proj is stored in HF row order");
                    got = unpermute(got, HEADS);
                } else if (e.getKey().endsWith("k_proj.weight")) {
                    got = unpermute(got, KV_HEADS);
                }
                assertArrayEquals(e.getValue(), got, e.getKey());
            }
            assertEquals(4L * (END - 2L * SEQ * (HEAD / 2)), f.dataBytes(), "every weight, no rotary tables");
        }
    }
}
