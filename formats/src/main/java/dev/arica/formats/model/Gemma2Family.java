package dev.arica.formats.model;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Gemma-2 ({@code Gemma2ForCausalLM}, transformers' modeling_gemma2.py): embedding scaled by sqrt(hidden) rounded to
 * float32, RMSNorm with weight 1 + w, four norms per layer (before and after attention, before and after the MLP),
 * GeGLU with tanh GELU, grouped-query attention with an explicit head_dim scaled by query_pre_attn_scalar^-0.5,
 * scores soft-capped before the mask, a sliding window on the layers layer_types names (even layers when it is
 * absent), a tied head and soft-capped logits.
 */
public final class Gemma2Family implements Family<DecoderConfig> {
    public static final Gemma2Family INSTANCE = new Gemma2Family();

    private Gemma2Family() {}

    @Override
    public String id() {
        return "gemma2";
    }

    @Override
    public Set<String> architectures() {
        return Set.of("Gemma2ForCausalLM");
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of("gemma2");
    }

    @Override
    public DecoderConfig config(ConfigFields f, TokenIds ids) throws FormatException {
        Checks.plainRotary(f);
        if (f.bool("attention_bias", false)) {
            throw f.error("attention_bias is true; Gemma-2 has no attention biases");
        }
        String act = f.has("hidden_activation") ? f.text("hidden_activation", null) : f.text("hidden_act", "gelu_pytorch_tanh");
        if (!act.equals("gelu_pytorch_tanh") && !act.equals("gelu_tanh")) {
            throw f.error("hidden_activation '" + act + "' is not supported (Gemma-2 uses gelu_pytorch_tanh)");
        }
        int hidden = f.positive("hidden_size");
        int heads = f.positive("num_attention_heads");
        int kvHeads = f.positiveOr(heads, "num_key_value_heads");
        int headDim = f.positiveOr(256, "head_dim");
        Checks.heads(f, heads, kvHeads, headDim, true);
        int layers = f.layers("num_hidden_layers");
        List<Boolean> sliding = new ArrayList<>();
        List<String> types = f.strings("layer_types");
        if (types.isEmpty()) {
            for (int i = 0; i < layers; i++) {
                sliding.add(evenLayerSlides(i));
            }
        } else {
            if (types.size() != layers) {
                throw f.error("layer_types has " + types.size() + " entries but num_hidden_layers is " + layers);
            }
            for (String t : types) {
                if (!t.equals("sliding_attention") && !t.equals("full_attention")) {
                    throw f.error("layer_types holds '" + t + "', not sliding_attention or full_attention");
                }
                sliding.add(t.equals("sliding_attention"));
            }
        }
        double scalar = f.positiveNumberOr(headDim, "query_pre_attn_scalar");
        return new DecoderConfig(id(), hidden, f.positive("intermediate_size"), layers, heads, kvHeads, headDim,
                f.positive("vocab_size"), f.positiveOr(8192, "max_position_embeddings"), DecoderConfig.Positions.ROTARY,
                f.positiveNumberOr(10000.0, "rope_theta"), DecoderConfig.Norm.RMS_OFFSET,
                f.positiveNumberOr(1e-6, "rms_norm_eps"), DecoderConfig.Mlp.GATED, DecoderConfig.Activation.GELU_TANH,
                1.0 / Math.sqrt(scalar), f.positiveNumberOr(0, "attn_logit_softcapping"),
                f.positiveNumberOr(0, "final_logit_softcapping"), (float) Math.sqrt(hidden),
                f.nonNegativeOr(0, "sliding_window"), sliding, false, f.bool("tie_word_embeddings", true), ids.bos(),
                ids.eos());
    }

    @Override
    public void writeLayerSettings(ObjectNode config, int layers) {
        if (!config.hasNonNull("layer_types")) {
            ArrayNode types = config.putArray("layer_types");
            for (int i = 0; i < layers; i++) {
                types.add(evenLayerSlides(i) ? "sliding_attention" : "full_attention");
            }
        }
    }

    /** Without layer_types, transformers' Gemma-2 slides its window on the even layers. */
    private static boolean evenLayerSlides(int i) {
        return i % 2 == 0;
    }

    @Override
    public TensorTable tensors(DecoderConfig c, Set<String> names) {
        TensorTable.Builder t = new TensorTable.Builder();
        t.add("model.embed_tokens.weight", Role.EMBEDDING, -1, c.vocab(), c.hidden());
        for (int i = 0; i < c.layers(); i++) {
            String p = "model.layers." + i + ".";
            t.add(p + "input_layernorm.weight", Role.ATTENTION_NORM, i, c.hidden());
            LlamaFamily.attention(t, p, i, c);
            t.add(p + "post_attention_layernorm.weight", Role.ATTENTION_OUTPUT_NORM, i, c.hidden());
            t.add(p + "pre_feedforward_layernorm.weight", Role.MLP_NORM, i, c.hidden());
            LlamaFamily.gatedMlp(t, p, i, c);
            t.add(p + "post_feedforward_layernorm.weight", Role.MLP_OUTPUT_NORM, i, c.hidden());
        }
        t.add("model.norm.weight", Role.FINAL_NORM, -1, c.hidden());
        if (!c.tied()) {
            t.add("lm_head.weight", Role.HEAD, -1, c.vocab(), c.hidden());
        }
        return t.build();
    }
}
