package dev.arica.runtime.export;

/**
 * Names of the exported recurrent model's inputs and outputs besides {@link DecoderIo#INPUT_IDS} and
 * {@link DecoderIo#LOGITS}: its state, fed back from each call's present to the next call's past like a key/value cache.
 */
public final class RecurrentIo {
    /** [1, batch, hidden] float32: GRU layer {@code i}'s state after the tokens so far (zeros at the start). */
    public static final String PAST_HIDDEN = "past_hidden.%d";
    public static final String PRESENT_HIDDEN = "present_hidden.%d";
    /** [batch, past, attention_dim] float32: the attention's key projections of the past top-layer outputs. */
    public static final String PAST_KEYS = "past_attention_keys";
    public static final String PRESENT_KEYS = "present_attention_keys";
    /** [batch, past, hidden] float32: the past top-layer outputs, which the attention's context averages. */
    public static final String PAST_OUTPUTS = "past_attention_outputs";
    public static final String PRESENT_OUTPUTS = "present_attention_outputs";

    private RecurrentIo() {}

    public static String pastHidden(int i) {
        return PAST_HIDDEN.formatted(i);
    }

    public static String presentHidden(int i) {
        return PRESENT_HIDDEN.formatted(i);
    }
}
