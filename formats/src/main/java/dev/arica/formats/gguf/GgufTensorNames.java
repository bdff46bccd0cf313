package dev.arica.formats.gguf;

import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Tensor names of GGUF's {@code llama} architecture and their Hugging Face Llama names, both ways (llama.cpp's
 * tensor name map): {@code token_embd} is {@code model.embed_tokens}, {@code blk.N.attn_q} is
 * {@code model.layers.N.self_attn.q_proj}, each with its {@code .weight} or {@code .bias}. Mistral and other
 * Llama-shaped models are written as this architecture too.
 */
public final class GgufTensorNames {
    /** The architecture these names belong to. */
    public static final String LLAMA = "llama";

    private static final String ATTN_Q = "attn_q";
    private static final String ATTN_K = "attn_k";

    /** Whole-model tensors: GGUF name to HF name (without the suffix). */
    private static final Map<String, String> GLOBAL = Map.of(
            "token_embd", "model.embed_tokens",
            "output_norm", "model.norm",
            "output", "lm_head");

    /** Per-layer tensors: GGUF name under {@code blk.N.} to HF name under {@code model.layers.N.}. */
    private static final Map<String, String> LAYER = Map.of(
            "attn_norm", "input_layernorm",
            ATTN_Q, "self_attn.q_proj",
            ATTN_K, "self_attn.k_proj",
            "attn_v", "self_attn.v_proj",
            "attn_output", "self_attn.o_proj",
            "ffn_norm", "post_attention_layernorm",
            "ffn_gate", "mlp.gate_proj",
            "ffn_up", "mlp.up_proj",
            "ffn_down", "mlp.down_proj");

    private static final Pattern GGUF_LAYER = Pattern.compile("blk\\.(0|[1-9][0-9]{0,8})\\.([a-z_]+)\\.(weight|bias)");
    private static final Pattern GGUF_GLOBAL = Pattern.compile("([a-z_]+)\\.(weight|bias)");
    private static final Pattern HF_LAYER = Pattern.compile("model\\.layers\\.(0|[1-9][0-9]{0,8})\\.(.+)\\.(weight|bias)");
    private static final Pattern HF_GLOBAL = Pattern.compile("(.+)\\.(weight|bias)");

    private GgufTensorNames() {}

    /** The HF name of a llama GGUF tensor; empty for one HF has no tensor for (rope_freqs). */
    public static Optional<String> hfName(String gguf) {
        Matcher m = GGUF_LAYER.matcher(gguf);
        if (m.matches()) {
            return Optional.ofNullable(LAYER.get(m.group(2))).map(h -> "model.layers." + m.group(1) + "." + h + "."
                    + m.group(3));
        }
        Matcher g = GGUF_GLOBAL.matcher(gguf);
        return g.matches() ? Optional.ofNullable(GLOBAL.get(g.group(1))).map(h -> h + "." + g.group(2)) : Optional.empty();
    }

    /** The llama GGUF name of an HF Llama tensor; empty for one GGUF has no name for. */
    public static Optional<String> ggufName(String hf) {
        Matcher m = HF_LAYER.matcher(hf);
        if (m.matches()) {
            return key(LAYER, m.group(2)).map(g -> "blk." + m.group(1) + "." + g + "." + m.group(3));
        }
        Matcher g = HF_GLOBAL.matcher(hf);
        return g.matches() ? key(GLOBAL, g.group(1)).map(x -> x + "." + g.group(2)) : Optional.empty();
    }

    private static Optional<String> key(Map<String, String> map, String value) {
        return map.entrySet().stream().filter(e -> e.getValue().equals(value)).map(Map.Entry::getKey).findFirst();
    }

    /**
     * Whether the llama GGUF tensor {@code gguf} holds query rows ({@code attn_q}), which llama.cpp's converter
     * reorders per head to GGML's rotary pair order ({@code RotaryPermutation}) over the attention heads.
     */
    public static boolean isQuery(String gguf) {
        return isLayerTensor(gguf, ATTN_Q);
    }

    /** Whether it holds key rows ({@code attn_k}), reordered the same way over the key/value heads. */
    public static boolean isKey(String gguf) {
        return isLayerTensor(gguf, ATTN_K);
    }

    private static boolean isLayerTensor(String gguf, String name) {
        Matcher m = GGUF_LAYER.matcher(gguf);
        return m.matches() && m.group(2).equals(name);
    }
}
