package dev.arica.formats.gguf;

import dev.arica.formats.model.Role;
import java.util.List;

/**
 * The GGML type of each tensor of a GGUF file written for a requested type, by llama.cpp's own rules, so that an
 * arica file holds what llama.cpp's converter and {@code llama-quantize} would have made of the same weights:
 * <ul>
 *   <li>1-D tensors and norms stay F32 (convert_hf_to_gguf.py; llama-quantize quantizes 2-D weights only).</li>
 *   <li>f32, f16: every other tensor in that type.</li>
 *   <li>q8_0, q4_0 (llama-quant.cpp): every 2-D weight in that type, except the output head (and the token embedding
 *       when it is tied to the head), which llama.cpp gives Q6_K under q4_0, or Q8_0 when its rows are not whole
 *       blocks; arica has no Q6_K quantizer and writes Q8_0, the next larger type llama.cpp itself falls back to.</li>
 *   <li>Fallback ({@code tensor_type_fallback}): a tensor whose rows are not whole blocks of its type (a row of 172
 *       values, stories260K's ffn_down) has no smaller block type to go to among the 32-value types, so llama.cpp
 *       writes it F16, and so does arica.</li>
 * </ul>
 */
public final class GgufTypeRule {

    /** The types a file can be asked for: llama.cpp's file types {@code all_f32}, {@code mostly_f16}, ... */
    public static final List<GgmlType> REQUESTABLE = List.of(GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0);

    /** general.quantization_version of files with quantized tensors (ggml.h's GGML_QNT_VERSION). */
    public static final int QUANTIZATION_VERSION = 2;

    /** A tensor's type and, when it is not the requested one, why. */
    public record Choice(GgmlType type, String reason) {}

    private GgufTypeRule() {}

    /**
     * The type of a tensor of role {@code role} and shape {@code shape} (outermost first) in a file of type
     * {@code requested}; {@code tied}: the model's head is its token embedding.
     */
    public static Choice choose(Role role, long[] shape, GgmlType requested, boolean tied) {
        requireRequestable(requested);
        if (shape.length < 2 || role.kind == Role.Kind.NORM) {
            return new Choice(GgmlType.F32, shape.length < 2 ? "1-D: F32 as llama.cpp keeps it" : "norm: F32");
        }
        if (requested.scheme().isEmpty()) {
            return new Choice(requested, "");
        }
        long cols = shape[shape.length - 1];
        GgmlType type = requested;
        String reason = "";
        if (role == Role.HEAD || (tied && role == Role.EMBEDDING)) {
            if (!requested.fitsRow(cols) || requested != GgmlType.Q8_0) {
                type = GgmlType.Q8_0;
                reason = (role == Role.HEAD ? "output head" : "token embedding tied to the head")
                        + ": Q8_0 (llama.cpp: Q6_K when rows are whole 256-blocks, else Q8_0)";
            }
        }
        if (!type.fitsRow(cols)) {
            return new Choice(GgmlType.F16, "rows of " + cols + " values are not whole blocks of " + type.blockValues()
                    + ": F16, llama.cpp's fallback");
        }
        return new Choice(type, reason);
    }

    /** general.file_type of a file of type {@code requested}: llama.cpp's llama_ftype. */
    public static int fileType(GgmlType requested) {
        requireRequestable(requested);
        return switch (requested) {
            case F32 -> 0;
            case F16 -> 1;
            case Q4_0 -> 2;
            default -> 7; // Q8_0
        };
    }

    private static void requireRequestable(GgmlType requested) {
        if (!REQUESTABLE.contains(requested)) {
            throw new IllegalArgumentException("GGUF files are written as f32, f16, q8_0 or q4_0, not " + requested);
        }
    }
}
