package dev.arica.formats.model;

import java.util.List;

/**
 * The hyper-parameters of a bidirectional transformer encoder (BERT, RoBERTa): summed word, position and token-type
 * embeddings with a LayerNorm, post-LN blocks (LayerNorm(x + attention(x)), LayerNorm(x + mlp(x))) with biases, and
 * optionally a masked-LM head tied to the word embeddings.
 *
 * @param typeVocab rows of the token-type table; 1 means the model takes no token_type_ids (RoBERTa)
 * @param paddingPositions RoBERTa: positions count the non-padding tokens from padding_idx + 1 (padding gets
 *     padding_idx); null: positions are 0, 1, 2, ... (BERT)
 * @param padTokenId the padding id, or null
 */
public record EncoderConfig(String family, int vocab, int hidden, int intermediate, int layers, int heads, int maxPositions,
        int typeVocab, double normEps, DecoderConfig.Activation activation, Integer paddingPositions, Integer padTokenId)
        implements ModelConfig {

    public int headDim() {
        return hidden / heads;
    }

    /** Whether the model reads token_type_ids. */
    public boolean tokenTypes() {
        return typeVocab > 1;
    }

    @Override
    public Integer bosTokenId() {
        return null;
    }

    @Override
    public List<Integer> eosTokenIds() {
        return List.of();
    }
}
