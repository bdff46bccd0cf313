package dev.arica.formats.model;

import dev.arica.formats.FormatException;
import java.util.Collections;
import java.util.List;
import java.util.Set;

/**
 * Llama ({@code LlamaForCausalLM}; also SOLAR, which is Llama's structure with Mistral's weights) and Mistral
 * ({@code MistralForCausalLM}: Llama with a sliding window on every layer when {@code sliding_window} is set).
 * Pre-norm blocks with RMSNorm, rotary embeddings, grouped-query attention and a SwiGLU MLP.
 */
public final class LlamaFamily implements Family<DecoderConfig> {
    public static final LlamaFamily LLAMA = new LlamaFamily("llama", "LlamaForCausalLM", false);
    public static final LlamaFamily MISTRAL = new LlamaFamily("mistral", "MistralForCausalLM", true);

    private final String id;
    private final String architecture;
    private final boolean slidingWindow;

    private LlamaFamily(String id, String architecture, boolean slidingWindow) {
        this.id = id;
        this.architecture = architecture;
        this.slidingWindow = slidingWindow;
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public Set<String> architectures() {
        return Set.of(architecture);
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of(id);
    }

    @Override
    public DecoderConfig config(ConfigFields f, TokenIds ids) throws FormatException {
        Checks.plainRotary(f);
        for (String bias : List.of("attention_bias", "mlp_bias")) {
            if (f.bool(bias, false)) {
                throw f.error(bias + " is true; ONNX export supports " + id + " models without biases");
            }
        }
        String act = f.text("hidden_act", "silu");
        if (!act.equals("silu")) {
            throw f.error("hidden_act '" + act + "' is not supported (" + id + " uses silu)");
        }
        int hidden = f.positive("hidden_size");
        int heads = f.positive("num_attention_heads");
        int kvHeads = f.positiveOr(heads, "num_key_value_heads");
        int headDim = hidden % heads == 0 ? f.positiveOr(hidden / heads, "head_dim") : f.positive("head_dim");
        Checks.heads(f, heads, kvHeads, headDim, true);
        int layers = f.layers("num_hidden_layers");
        int window = slidingWindow ? f.nonNegativeOr(0, "sliding_window") : 0;
        return new DecoderConfig(id, hidden, f.positive("intermediate_size"), layers, heads, kvHeads, headDim,
                f.positive("vocab_size"), f.positiveOr(2048, "max_position_embeddings"), DecoderConfig.Positions.ROTARY,
                f.positiveNumberOr(10000.0, "rope_theta"), DecoderConfig.Norm.RMS, f.positiveNumberOr(1e-6, "rms_norm_eps"),
                DecoderConfig.Mlp.GATED, DecoderConfig.Activation.SILU, 1.0 / Math.sqrt(headDim), 0, 0, 1, window,
                Collections.nCopies(layers, window > 0), false, f.bool("tie_word_embeddings", false), ids.bos(), ids.eos());
    }

    @Override
    public TensorTable tensors(DecoderConfig c, Set<String> names) {
        TensorTable.Builder t = new TensorTable.Builder();
        t.add("model.embed_tokens.weight", Role.EMBEDDING, -1, c.vocab(), c.hidden());
        for (int i = 0; i < c.layers(); i++) {
            String p = "model.layers." + i + ".";
            t.add(p + "input_layernorm.weight", Role.ATTENTION_NORM, i, c.hidden());
            attention(t, p, i, c);
            t.add(p + "post_attention_layernorm.weight", Role.MLP_NORM, i, c.hidden());
            gatedMlp(t, p, i, c);
        }
        t.add("model.norm.weight", Role.FINAL_NORM, -1, c.hidden());
        if (!c.tied()) {
            t.add("lm_head.weight", Role.HEAD, -1, c.vocab(), c.hidden());
        }
        return t.build();
    }

    /** Llama's q, k, v and o projections of layer {@code i} ({@code p} = "model.layers.i."), shared by Gemma-2. */
    static void attention(TensorTable.Builder t, String p, int i, DecoderConfig c) {
        long q = (long) c.heads() * c.headDim(), kv = (long) c.kvHeads() * c.headDim();
        t.add(p + "self_attn.q_proj.weight", Role.QUERY, i, q, c.hidden());
        t.add(p + "self_attn.k_proj.weight", Role.KEY, i, kv, c.hidden());
        t.add(p + "self_attn.v_proj.weight", Role.VALUE, i, kv, c.hidden());
        t.add(p + "self_attn.o_proj.weight", Role.ATTENTION_OUTPUT, i, c.hidden(), q);
    }

    /** Llama's gate, up and down projections of layer {@code i}, shared by Gemma-2. */
    static void gatedMlp(TensorTable.Builder t, String p, int i, DecoderConfig c) {
        t.add(p + "mlp.gate_proj.weight", Role.GATE, i, c.intermediate(), c.hidden());
        t.add(p + "mlp.up_proj.weight", Role.UP, i, c.intermediate(), c.hidden());
        t.add(p + "mlp.down_proj.weight", Role.DOWN, i, c.hidden(), c.intermediate());
    }
}
