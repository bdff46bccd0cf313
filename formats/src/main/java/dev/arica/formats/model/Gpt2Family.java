package dev.arica.formats.model;

import dev.arica.formats.FormatException;
import java.util.Collections;
import java.util.List;
import java.util.Set;

/**
 * GPT-2 ({@code GPT2LMHeadModel}, transformers' modeling_gpt2.py): learned positions added to the embedding,
 * pre-LayerNorm blocks with biases, one fused c_attn projection (q | k | v), a plain MLP with tanh GELU (gelu_new)
 * or exact GELU, a tied head. Weights are Conv1D, stored [in, out]. Names come with or without the
 * {@code transformer.} prefix (the original checkpoint has none); the causal-mask buffers h.N.attn.bias it also
 * stores are not weights and not in the table.
 */
public final class Gpt2Family implements Family<DecoderConfig> {
    public static final Gpt2Family INSTANCE = new Gpt2Family();

    private Gpt2Family() {}

    @Override
    public String id() {
        return "gpt2";
    }

    @Override
    public Set<String> architectures() {
        return Set.of("GPT2LMHeadModel");
    }

    @Override
    public Set<String> modelTypes() {
        return Set.of("gpt2");
    }

    @Override
    public List<String> layerCountKeys() {
        return List.of("n_layer", "num_hidden_layers");
    }

    @Override
    public DecoderConfig config(ConfigFields f, TokenIds ids) throws FormatException {
        if (f.bool("scale_attn_by_inverse_layer_idx", false)) {
            throw f.error("scale_attn_by_inverse_layer_idx is true; ONNX export supports GPT-2 without it");
        }
        if (!f.bool("scale_attn_weights", true)) {
            throw f.error("scale_attn_weights is false; ONNX export supports GPT-2 with scaled attention");
        }
        String act = f.text("activation_function", "gelu_new");
        DecoderConfig.Activation activation = switch (act) {
            case "gelu_new", "gelu_pytorch_tanh", "gelu_fast" -> DecoderConfig.Activation.GELU_TANH;
            case "gelu" -> DecoderConfig.Activation.GELU_EXACT;
            default -> throw f.error("activation_function '" + act + "' is not supported (gelu_new, gelu)");
        };
        int hidden = f.positive("n_embd", "hidden_size");
        int heads = f.positive("n_head", "num_attention_heads");
        if (hidden % heads != 0) {
            throw f.error("n_embd " + hidden + " is not a multiple of n_head " + heads);
        }
        int layers = f.layers("n_layer", "num_hidden_layers");
        return new DecoderConfig(id(), hidden, f.positiveOr(4 * hidden, "n_inner"), layers, heads, heads, hidden / heads,
                f.positive("vocab_size"), f.positive("n_positions", "max_position_embeddings"),
                DecoderConfig.Positions.LEARNED, 0, DecoderConfig.Norm.LAYER, f.positiveNumberOr(1e-5, "layer_norm_epsilon"),
                DecoderConfig.Mlp.PLAIN, activation, 1.0 / Math.sqrt((double) hidden / heads), 0, 0, 1, 0,
                Collections.nCopies(layers, false), false, true, ids.bos(), ids.eos());
    }

    @Override
    public TensorTable tensors(DecoderConfig c, Set<String> names) {
        String p = names.contains("transformer.wte.weight") ? "transformer." : "";
        long h = c.hidden();
        TensorTable.Builder t = new TensorTable.Builder().qkv(new QkvLayout(1, c.heads(), c.heads(), c.headDim()));
        t.add(p + "wte.weight", Role.EMBEDDING, -1, c.vocab(), h);
        t.add(p + "wpe.weight", Role.POSITION_EMBEDDING, -1, c.maxPositions(), h);
        for (int i = 0; i < c.layers(); i++) {
            String l = p + "h." + i + ".";
            t.add(l + "ln_1.weight", Role.ATTENTION_NORM, i, h);
            t.add(l + "ln_1.bias", Role.ATTENTION_NORM_BIAS, i, h);
            t.addInOut(l + "attn.c_attn.weight", Role.QKV, i, h, 3 * h);
            t.add(l + "attn.c_attn.bias", Role.QKV_BIAS, i, 3 * h);
            t.addInOut(l + "attn.c_proj.weight", Role.ATTENTION_OUTPUT, i, h, h);
            t.add(l + "attn.c_proj.bias", Role.ATTENTION_OUTPUT_BIAS, i, h);
            t.add(l + "ln_2.weight", Role.MLP_NORM, i, h);
            t.add(l + "ln_2.bias", Role.MLP_NORM_BIAS, i, h);
            t.addInOut(l + "mlp.c_fc.weight", Role.UP, i, h, c.intermediate());
            t.add(l + "mlp.c_fc.bias", Role.UP_BIAS, i, c.intermediate());
            t.addInOut(l + "mlp.c_proj.weight", Role.DOWN, i, c.intermediate(), h);
            t.add(l + "mlp.c_proj.bias", Role.DOWN_BIAS, i, h);
        }
        t.add(p + "ln_f.weight", Role.FINAL_NORM, -1, h);
        t.add(p + "ln_f.bias", Role.FINAL_NORM_BIAS, -1, h);
        return t.build();
    }
}
