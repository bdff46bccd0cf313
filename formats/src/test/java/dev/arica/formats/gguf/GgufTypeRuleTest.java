package dev.arica.formats.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.arica.formats.model.Role;
import org.junit.jupiter.api.Test;

/** llama.cpp's choice of tensor types (llama-quant.cpp, convert_hf_to_gguf.py) as arica applies it. */
class GgufTypeRuleTest {

    private static GgmlType type(Role role, long[] shape, GgmlType requested, boolean tied) {
        return GgufTypeRule.choose(role, shape, requested, tied).type();
    }

    @Test
    void normsAndVectorsStayF32() {
        for (GgmlType t : GgufTypeRule.REQUESTABLE) {
            assertEquals(GgmlType.F32, type(Role.ATTENTION_NORM, new long[] {64}, t, false));
            assertEquals(GgmlType.F32, type(Role.FINAL_NORM, new long[] {64}, t, true));
        }
    }

    @Test
    void floatFilesTakeTheRequestedType() {
        assertEquals(GgmlType.F16, type(Role.DOWN, new long[] {64, 172}, GgmlType.F16, false));
        assertEquals(GgmlType.F32, type(Role.HEAD, new long[] {512, 64}, GgmlType.F32, false));
    }

    @Test
    void quantizedFilesFollowLlamaQuantize() {
        long[] w = {64, 64};
        assertEquals(GgmlType.Q8_0, type(Role.QUERY, w, GgmlType.Q8_0, false));
        assertEquals(GgmlType.Q4_0, type(Role.QUERY, w, GgmlType.Q4_0, false));
        assertEquals(GgmlType.Q4_0, type(Role.EMBEDDING, new long[] {512, 64}, GgmlType.Q4_0, false));
        // The head, and the embedding standing for it when tied: Q8_0 (llama.cpp's Q6_K has no arica quantizer).
        assertEquals(GgmlType.Q8_0, type(Role.HEAD, new long[] {512, 64}, GgmlType.Q4_0, false));
        assertEquals(GgmlType.Q8_0, type(Role.EMBEDDING, new long[] {512, 64}, GgmlType.Q4_0, true));
        assertEquals(GgmlType.Q8_0, type(Role.HEAD, new long[] {512, 64}, GgmlType.Q8_0, false));
        // Rows that are not whole blocks of 32 (stories260K's ffn_down, 172): F16, whatever the quantized type.
        assertEquals(GgmlType.F16, type(Role.DOWN, new long[] {64, 172}, GgmlType.Q8_0, false));
        assertEquals(GgmlType.F16, type(Role.DOWN, new long[] {64, 172}, GgmlType.Q4_0, false));
        assertEquals(GgmlType.F16, type(Role.HEAD, new long[] {512, 100}, GgmlType.Q4_0, false));
        assertEquals(GgmlType.Q8_0, type(Role.GATE, new long[] {172, 64}, GgmlType.Q8_0, false), "columns decide, not rows");
    }

    @Test
    void fileTypesAreLlamaFtypes() {
        assertEquals(0, GgufTypeRule.fileType(GgmlType.F32));
        assertEquals(1, GgufTypeRule.fileType(GgmlType.F16));
        assertEquals(2, GgufTypeRule.fileType(GgmlType.Q4_0));
        assertEquals(7, GgufTypeRule.fileType(GgmlType.Q8_0));
        assertThrows(IllegalArgumentException.class, () -> GgufTypeRule.fileType(GgmlType.Q4_K));
    }
}
