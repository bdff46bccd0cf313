package dev.arica.formats.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.DType;
import dev.arica.formats.quant.Scheme;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The GGUF constants against the published tables (gguf.md, ggml.h, gguf-py's GGML_QUANT_SIZES). */
class GgufConstantsTest {

    @Test
    void ggmlTypesHaveTheirPublishedIdsAndBlockSizes() {
        // (id, values per block, bytes per block) as ggml-common.h's structs give them.
        Object[][] table = {
            {GgmlType.F32, 0, 1, 4}, {GgmlType.F16, 1, 1, 2}, {GgmlType.Q4_0, 2, 32, 18}, {GgmlType.Q4_1, 3, 32, 20},
            {GgmlType.Q5_0, 6, 32, 22}, {GgmlType.Q5_1, 7, 32, 24}, {GgmlType.Q8_0, 8, 32, 34},
            {GgmlType.Q8_1, 9, 32, 36}, {GgmlType.Q2_K, 10, 256, 84}, {GgmlType.Q3_K, 11, 256, 110},
            {GgmlType.Q4_K, 12, 256, 144}, {GgmlType.Q5_K, 13, 256, 176}, {GgmlType.Q6_K, 14, 256, 210},
            {GgmlType.Q8_K, 15, 256, 292}, {GgmlType.IQ2_XXS, 16, 256, 66}, {GgmlType.IQ4_NL, 20, 32, 18},
            {GgmlType.IQ4_XS, 23, 256, 136}, {GgmlType.I8, 24, 1, 1}, {GgmlType.F64, 28, 1, 8},
            {GgmlType.IQ1_M, 29, 256, 56}, {GgmlType.BF16, 30, 1, 2}, {GgmlType.TQ1_0, 34, 256, 54},
            {GgmlType.TQ2_0, 35, 256, 66}, {GgmlType.MXFP4, 39, 32, 17}};
        for (Object[] row : table) {
            GgmlType t = (GgmlType) row[0];
            assertEquals(row[1], t.id(), t + " id");
            assertEquals(row[2], t.blockValues(), t + " block values");
            assertEquals(row[3], t.blockBytes(), t + " block bytes");
            assertEquals(Optional.of(t), GgmlType.of(t.id()));
        }
        Set<Integer> ids = new HashSet<>();
        for (GgmlType t : GgmlType.values()) {
            assertTrue(ids.add(t.id()), "one type per id: " + t);
        }
        for (int removed : new int[] {4, 5, 31, 32, 33, 36, 37, 38, -1, 1000}) {
            assertEquals(Optional.empty(), GgmlType.of(removed), "id " + removed);
        }
        assertEquals(5 * 144, GgmlType.Q4_K.bytes(5 * 256));
        assertTrue(GgmlType.Q8_0.fitsRow(64));
        assertFalse(GgmlType.Q8_0.fitsRow(172));
    }

    @Test
    void whatAricaDoesWithEachType() {
        assertEquals(Optional.of(DType.F32), GgmlType.F32.dtype());
        assertEquals(Optional.of(DType.F16), GgmlType.F16.dtype());
        assertEquals(Optional.of(DType.BF16), GgmlType.BF16.dtype());
        assertEquals(Optional.of(Scheme.Q8_0), GgmlType.Q8_0.scheme());
        assertEquals(Optional.of(Scheme.Q4_0), GgmlType.Q4_0.scheme());
        assertEquals(Optional.of(GgmlType.Q8_0), GgmlType.of(Scheme.Q8_0));
        assertEquals(Optional.empty(), GgmlType.of(Scheme.INT4));
        for (GgmlType t : new GgmlType[] {GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q4_K, GgmlType.Q5_K,
            GgmlType.Q6_K, GgmlType.Q8_K, GgmlType.Q8_0, GgmlType.Q4_0}) {
            assertTrue(t.dequantizer().isPresent() && t.readable(), t + " is dequantized");
        }
        for (GgmlType t : new GgmlType[] {GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.IQ2_XXS, GgmlType.I32, GgmlType.F64,
            GgmlType.Q8_1, GgmlType.MXFP4}) {
            assertFalse(t.readable(), t + " is refused");
        }
    }

    @Test
    void valueTypesHaveTheirSpecIds() {
        String[] names = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array",
            "uint64", "int64", "float64"};
        for (int id = 0; id < names.length; id++) {
            assertEquals(names[id], GgufValueType.of(id).orElseThrow().displayName());
        }
        assertEquals(Optional.empty(), GgufValueType.of(13));
        assertEquals(8, GgufValueType.STRING.minBytes());
        assertEquals(12, GgufValueType.ARRAY.minBytes());
        assertEquals(4, GgufValueType.FLOAT32.minBytes());
        assertEquals(0x46554747, Gguf.MAGIC);
        assertEquals(64, Gguf.align(33, 32));
        assertEquals(32, Gguf.align(32, 32));
    }

    @Test
    void llamaTensorNamesMapBothWays() {
        String[][] pairs = {
            {"token_embd.weight", "model.embed_tokens.weight"}, {"output_norm.weight", "model.norm.weight"},
            {"output.weight", "lm_head.weight"}, {"blk.0.attn_norm.weight", "model.layers.0.input_layernorm.weight"},
            {"blk.3.attn_q.weight", "model.layers.3.self_attn.q_proj.weight"},
            {"blk.3.attn_q.bias", "model.layers.3.self_attn.q_proj.bias"},
            {"blk.12.attn_k.weight", "model.layers.12.self_attn.k_proj.weight"},
            {"blk.1.attn_v.weight", "model.layers.1.self_attn.v_proj.weight"},
            {"blk.1.attn_output.weight", "model.layers.1.self_attn.o_proj.weight"},
            {"blk.4.ffn_norm.weight", "model.layers.4.post_attention_layernorm.weight"},
            {"blk.4.ffn_gate.weight", "model.layers.4.mlp.gate_proj.weight"},
            {"blk.4.ffn_up.weight", "model.layers.4.mlp.up_proj.weight"},
            {"blk.4.ffn_down.weight", "model.layers.4.mlp.down_proj.weight"}};
        for (String[] p : pairs) {
            assertEquals(Optional.of(p[1]), GgufTensorNames.hfName(p[0]), p[0]);
            assertEquals(Optional.of(p[0]), GgufTensorNames.ggufName(p[1]), p[1]);
        }
        for (String none : new String[] {"rope_freqs.weight", "blk.0.attn_rot_embd", "blk.01.attn_q.weight",
            "blk.0.ffn_gate_exps.weight", "token_embd", ""}) {
            assertEquals(Optional.empty(), GgufTensorNames.hfName(none), none);
        }
        assertEquals(Optional.empty(), GgufTensorNames.ggufName("model.layers.0.self_attn.rotary_emb.inv_freq"));
        assertTrue(GgufTensorNames.isQuery("blk.7.attn_q.weight"));
        assertTrue(GgufTensorNames.isKey("blk.7.attn_k.bias"));
        assertFalse(GgufTensorNames.isQuery("blk.7.attn_k.weight"));
        assertFalse(GgufTensorNames.isKey("blk.7.attn_v.weight"));
    }
}
