package dev.arica.formats.model;

import java.util.List;

/**
 * The typed hyper-parameters of a described model, whatever its kind: a transformer decoder ({@link DecoderConfig})
 * a recurrent one ({@link RecurrentConfig}) or a bidirectional encoder ({@link EncoderConfig}). What every command needs is here; the rest is the kind's own.
 */
public sealed interface ModelConfig permits DecoderConfig, RecurrentConfig, EncoderConfig {
    /** The family's id ({@link Family#id}). */
    String family();

    int vocab();

    /** Stacked layers: transformer blocks, or recurrent layers. */
    int layers();

    /** Width of the layers' outputs. */
    int hidden();

    /** The longest sequence the model is meant to run on. */
    int maxPositions();

    /** Beginning-of-sequence id, or null when the model has none. */
    Integer bosTokenId();

    List<Integer> eosTokenIds();
}
