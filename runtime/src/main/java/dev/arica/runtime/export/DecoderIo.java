package dev.arica.runtime.export;

/**
 * Names of the exported decoder's inputs and outputs: those of ONNX Runtime GenAI's decoder models, so
 * that tools written for them find their way.
 */
public final class DecoderIo {
    /** [batch, seq] int64: the new tokens. */
    public static final String INPUT_IDS = "input_ids";
    /** [batch, past + seq] int64: 1 for tokens to attend to, 0 for padding. */
    public static final String ATTENTION_MASK = "attention_mask";
    /** [batch, seq] int64: rotary position of each new token. */
    public static final String POSITION_IDS = "position_ids";
    /** [batch, seq, vocab] float32. */
    public static final String LOGITS = "logits";
    /** Name patterns with %d for the layer; arica-genai.json records them with {i} instead (see {@link #template}). */
    public static final String PAST_KEY = "past_key_values.%d.key";
    public static final String PAST_VALUE = "past_key_values.%d.value";
    public static final String PRESENT_KEY = "present.%d.key";
    public static final String PRESENT_VALUE = "present.%d.value";

    private DecoderIo() {}

    /** A pattern as arica-genai.json writes it: {@code {i}} for the layer, as GenAiConfig reads it. */
    public static String template(String pattern) {
        return pattern.replace("%d", "{i}");
    }

    /** [batch, kv_heads, past, head_dim] float32: layer {@code i}'s keys so far (past = 0 on the first call). */
    public static String pastKey(int i) {
        return PAST_KEY.formatted(i);
    }

    public static String pastValue(int i) {
        return PAST_VALUE.formatted(i);
    }

    /** [batch, kv_heads, past + seq, head_dim]: the cache to feed back as the next call's past. */
    public static String presentKey(int i) {
        return PRESENT_KEY.formatted(i);
    }

    public static String presentValue(int i) {
        return PRESENT_VALUE.formatted(i);
    }
}
