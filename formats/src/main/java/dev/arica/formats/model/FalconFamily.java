package dev.arica.formats.model;

import dev.arica.formats.FormatException;
import java.util.Collections;
import java.util.List;
import java.util.Set;

/**
 * Falcon ({@code FalconForCausalLM}, transformers' modeling_falcon.py). Falcon-7B: multi-query attention (one kv
 * head), attention and MLP in parallel from one input LayerNorm, a fused query_key_value split as
 * {@code _split_heads} does, exact GELU, no biases, lm_head stored (a copy of the embedding). Falcon-40B/180B
 * ({@code new_decoder_architecture}): kv heads in groups inside query_key_value and two norms, ln_attn and ln_mlp.
 * Models without parallel attention add post_attention_layernorm before the MLP.
 */
public final class FalconFamily implements Family<DecoderConfig> {
    public static final FalconFamily INSTANCE = new FalconFamily();

    private FalconFamily() {}

    @Override
    public String id() {
        return "falcon";
    }

    @Override
    public Set<String> architectures() {
        return Set.of("FalconForCausalLM", "RWForCausalLM");
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of("falcon", "RefinedWeb", "RefinedWebModel");
    }

    @Override
    public List<String> layerCountKeys() {
        return List.of("num_hidden_layers", "n_layer");
    }

    @Override
    public DecoderConfig config(ConfigFields f, TokenIds ids) throws FormatException {
        if (f.bool("alibi", false)) {
            throw f.error("alibi is true; ONNX export supports Falcon with rotary embeddings");
        }
        Checks.plainRotary(f);
        int hidden = f.positive("hidden_size");
        int heads = f.positive("num_attention_heads", "n_head");
        if (hidden % heads != 0) {
            throw f.error("hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads);
        }
        boolean newArch = f.bool("new_decoder_architecture", false);
        int kvHeads = newArch ? f.positiveOr(heads, "num_kv_heads", "n_head_kv")
                : f.bool("multi_query", true) ? 1 : heads;
        Checks.heads(f, heads, kvHeads, hidden / heads, true);
        boolean parallel = newArch || f.bool("parallel_attn", true);
        int layers = f.layers("num_hidden_layers", "n_layer");
        return new DecoderConfig(id(), hidden, f.positiveOr(4 * hidden, "ffn_hidden_size"), layers, heads, kvHeads,
                hidden / heads, f.positive("vocab_size"), f.positiveOr(2048, "max_position_embeddings"),
                DecoderConfig.Positions.ROTARY, f.positiveNumberOr(10000.0, "rope_theta"), DecoderConfig.Norm.LAYER,
                f.positiveNumberOr(1e-5, "layer_norm_epsilon"), DecoderConfig.Mlp.PLAIN, DecoderConfig.Activation.GELU_EXACT,
                1.0 / Math.sqrt((double) hidden / heads), 0, 0, 1, 0, Collections.nCopies(layers, false), parallel,
                f.bool("tie_word_embeddings", true), ids.bos(), ids.eos());
    }

    /** The checkpoint's names say which variant it is: with biases or not, one norm or two. */
    @Override
    public TensorTable tensors(DecoderConfig c, Set<String> names) {
        int d = c.headDim();
        // One group per kv head: multi-query (one group of all heads), grouped (40B) and per-head (q, k, v) alike.
        QkvLayout qkv = new QkvLayout(c.kvHeads(), c.groupSize(), 1, d);
        boolean bias = names.contains("transformer.h.0.self_attention.query_key_value.bias");
        boolean twoNorms = names.contains("transformer.h.0.ln_attn.weight");
        long h = c.hidden();
        TensorTable.Builder t = new TensorTable.Builder().qkv(qkv);
        t.add("transformer.word_embeddings.weight", Role.EMBEDDING, -1, c.vocab(), h);
        for (int i = 0; i < c.layers(); i++) {
            String p = "transformer.h." + i + ".";
            String attnNorm = twoNorms ? "ln_attn" : "input_layernorm";
            t.add(p + attnNorm + ".weight", Role.ATTENTION_NORM, i, h);
            t.add(p + attnNorm + ".bias", Role.ATTENTION_NORM_BIAS, i, h);
            t.add(p + "self_attention.query_key_value.weight", Role.QKV, i, qkv.width(), h);
            if (bias) {
                t.add(p + "self_attention.query_key_value.bias", Role.QKV_BIAS, i, qkv.width());
            }
            t.add(p + "self_attention.dense.weight", Role.ATTENTION_OUTPUT, i, h, h);
            if (bias) {
                t.add(p + "self_attention.dense.bias", Role.ATTENTION_OUTPUT_BIAS, i, h);
            }
            if (twoNorms || !c.parallel()) {
                String mlpNorm = twoNorms ? "ln_mlp" : "post_attention_layernorm";
                t.add(p + mlpNorm + ".weight", Role.MLP_NORM, i, h);
                t.add(p + mlpNorm + ".bias", Role.MLP_NORM_BIAS, i, h);
            }
            t.add(p + "mlp.dense_h_to_4h.weight", Role.UP, i, c.intermediate(), h);
            if (bias) {
                t.add(p + "mlp.dense_h_to_4h.bias", Role.UP_BIAS, i, c.intermediate());
            }
            t.add(p + "mlp.dense_4h_to_h.weight", Role.DOWN, i, h, c.intermediate());
            if (bias) {
                t.add(p + "mlp.dense_4h_to_h.bias", Role.DOWN_BIAS, i, h);
            }
        }
        t.add("transformer.ln_f.weight", Role.FINAL_NORM, -1, h);
        t.add("transformer.ln_f.bias", Role.FINAL_NORM_BIAS, -1, h);
        if (!c.tied() || names.contains("lm_head.weight")) {
            t.add("lm_head.weight", Role.HEAD, -1, c.vocab(), h);
        }
        return t.build();
    }
}
