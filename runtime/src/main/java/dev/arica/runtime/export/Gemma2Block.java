package dev.arica.runtime.export;

import dev.arica.formats.model.Role;

/**
 * Gemma-2's layers: four norms, x + norm(attn(norm(x))) then x + norm(mlp(norm(x))).
 */
final class Gemma2Block implements Block {
    static final Gemma2Block INSTANCE = new Gemma2Block();

    private Gemma2Block() {}

    @Override
    public String[] layer(DecoderGraph g, int i, String x, String h, String nextName, DecoderGraph.Norm next) {
        String p = "layers." + i + "/";
        String[] qkv = g.queryKeyValue(i, h);
        String attn = g.attentionOutput(p, i, g.attention(i, qkv[0], qkv[1], qkv[2]));
        String normedAttn = g.norm(p + "post_attention_norm", attn, g.norm(Role.ATTENTION_OUTPUT_NORM, i));
        String[] post = g.addNorm(p + "attn_residual", p + "pre_feedforward_norm", x, normedAttn, g.norm(Role.MLP_NORM, i));
        String down = g.mlp(p, i, post[1]);
        String normedMlp = g.norm(p + "post_feedforward_norm", down, g.norm(Role.MLP_OUTPUT_NORM, i));
        return g.addNorm(p + "mlp_residual", nextName, post[0], normedMlp, next);
    }
}
