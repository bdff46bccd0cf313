package dev.arica.runtime.export;

import dev.arica.formats.model.Role;

/**
 * Pre-norm layers, x + attn(norm(x)) then x + mlp(norm(x)): Llama, Mistral, GPT-2 and sequential Falcon.
 */
final class PreNormBlock implements Block {
    static final PreNormBlock INSTANCE = new PreNormBlock();

    private PreNormBlock() {}

    @Override
    public String[] layer(DecoderGraph g, int i, String x, String h, String nextName, DecoderGraph.Norm next) {
        String p = "layers." + i + "/";
        String[] qkv = g.queryKeyValue(i, h);
        String attn = g.attentionOutput(p, i, g.attention(i, qkv[0], qkv[1], qkv[2]));
        String[] post = g.addNorm(p + "attn_residual", p + "post_attention_norm", x, attn, g.norm(Role.MLP_NORM, i));
        String down = g.mlp(p, i, post[1]);
        return g.addNorm(p + "mlp_residual", nextName, post[0], down, next);
    }
}
