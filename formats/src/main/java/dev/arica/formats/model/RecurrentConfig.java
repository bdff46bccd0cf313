package dev.arica.formats.model;

import java.util.List;

/**
 * The hyper-parameters of a recurrent language model with additive attention (Aricate): a token embedding, a stack of
 * GRU layers, causal additive (Bahdanau) attention over the top layer's outputs, and an output layer on the top
 * output and its attention context.
 *
 * @param embedding width of the token embedding (the first GRU layer's input)
 * @param hidden width of every GRU layer's state
 * @param attentionDim width of the attention's query and key projections
 * @param maxPositions the longest sequence the model is meant to run on (it has no position table)
 * @param sepTokenId the id separating a question from its answer, or null
 */
public record RecurrentConfig(String family, int vocab, int embedding, int hidden, int layers, int attentionDim,
        int maxPositions, Integer padTokenId, Integer unkTokenId, Integer sepTokenId, Integer bosTokenId,
        List<Integer> eosTokenIds) implements ModelConfig {
    public RecurrentConfig {
        eosTokenIds = List.copyOf(eosTokenIds);
    }

    /** Input width of GRU layer {@code i}: the embedding for the first, the state below for the others. */
    public int gruInput(int i) {
        return i == 0 ? embedding : hidden;
    }
}
