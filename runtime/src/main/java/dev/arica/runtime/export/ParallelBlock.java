package dev.arica.runtime.export;

import dev.arica.formats.model.Role;
import java.util.List;

/**
 * Falcon's parallel layers, x + (attn(norm(x)) + mlp(norm'(x))): one input norm feeding both (Falcon-7B), or a
 * second norm of x for the MLP (Falcon-40B's ln_mlp).
 */
final class ParallelBlock implements Block {
    static final ParallelBlock INSTANCE = new ParallelBlock();

    private ParallelBlock() {}

    @Override
    public String[] layer(DecoderGraph g, int i, String x, String h, String nextName, DecoderGraph.Norm next) {
        String p = "layers." + i + "/";
        String[] qkv = g.queryKeyValue(i, h);
        String attn = g.attentionOutput(p, i, g.attention(i, qkv[0], qkv[1], qkv[2]));
        String mlpIn = g.t.find(Role.MLP_NORM, i).isPresent() ? g.norm(p + "mlp_norm", x, g.norm(Role.MLP_NORM, i)) : h;
        String mlp = g.mlp(p, i, mlpIn);
        // transformers adds the attention to the MLP's output, then the residual.
        String both = g.g.node("Add", p + "attn_plus_mlp", List.of(mlp, attn));
        return g.addNorm(p + "residual", nextName, x, both, next);
    }
}
