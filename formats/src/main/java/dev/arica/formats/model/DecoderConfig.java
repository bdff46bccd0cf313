package dev.arica.formats.model;

import java.util.List;

/**
 * The hyper-parameters of a decoder-only language model, typed and checked, whatever family it belongs to: what the
 * exporter, the generator, quantize, upscale and inspect need to know. A family reads them from its config.json
 * ({@link Family#config}); switches a family lacks take their neutral value (no soft-cap, no window, scale 1).
 *
 * @param family the family's id ({@link Family#id})
 * @param headDim the width of one attention head (Gemma-2: heads x head_dim need not equal hidden)
 * @param maxPositions the context length the model was trained for
 * @param positions how positions enter: rotary embeddings on q and k, or a learned table added to the embedding
 * @param ropeTheta the rotary base (unused with learned positions)
 * @param norm RMSNorm, Gemma's RMSNorm with weight offset 1 + w, or LayerNorm with bias
 * @param mlp a gated MLP (down(act(gate x) * up x)) or a plain one (down(act(up x)))
 * @param attentionScale what q.k is multiplied by (1 / sqrt(head_dim) unless the family says otherwise)
 * @param attentionSoftCap c in tanh(s / c) * c applied to the scaled scores before the mask; 0 for none
 * @param finalSoftCap the same on the logits; 0 for none
 * @param embeddingScale the embedding's multiplier (Gemma: sqrt(hidden) rounded to float32); 1 for none
 * @param slidingWindow keys older than this many positions are not attended on the sliding layers; 0 for none
 * @param slidingLayers for each layer, whether it uses the sliding window
 * @param parallel attention and MLP read the same input and are added together (Falcon)
 * @param tied the output head is the embedding table
 */
public record DecoderConfig(String family, int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim,
        int vocab, int maxPositions, Positions positions, double ropeTheta, Norm norm, double normEps, Mlp mlp,
        Activation activation, double attentionScale, double attentionSoftCap, double finalSoftCap, double embeddingScale,
        int slidingWindow, List<Boolean> slidingLayers, boolean parallel, boolean tied, Integer bosTokenId,
        List<Integer> eosTokenIds) implements ModelConfig {

    public enum Positions { ROTARY, LEARNED }

    public enum Norm {
        RMS,
        /** Gemma: x / rms(x) * (1 + w), in float32. */
        RMS_OFFSET,
        LAYER
    }

    public enum Mlp { GATED, PLAIN }

    public enum Activation {
        SILU,
        /** 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3))): gelu_new, gelu_pytorch_tanh. */
        GELU_TANH,
        /** x Phi(x) with erf: torch.nn.GELU(). */
        GELU_EXACT
    }

    public DecoderConfig {
        slidingLayers = List.copyOf(slidingLayers);
        eosTokenIds = List.copyOf(eosTokenIds);
        if (slidingLayers.size() != layers) {
            throw new IllegalArgumentException("slidingLayers has " + slidingLayers.size() + " entries for " + layers + " layers");
        }
    }

    /** Query heads that share one key/value head. */
    public int groupSize() {
        return heads / kvHeads;
    }

    /** Whether layer {@code i} attends through the sliding window. */
    public boolean sliding(int i) {
        return slidingWindow > 0 && slidingLayers.get(i);
    }

    /** Whether any layer uses the sliding window. */
    public boolean anySliding() {
        return slidingWindow > 0 && slidingLayers.contains(true);
    }
}
