package dev.arica.formats.gguf;

import java.util.Optional;

/** The kinds of vocabulary entries in {@code tokenizer.ggml.token_type} (llama.cpp's llama_token_type). */
public enum GgufTokenType {
    NORMAL(1),
    UNKNOWN(2),
    /** BOS, EOS and other tokens that only the program inserts: special, never matched in text. */
    CONTROL(3),
    /** Tokens added by a user: matched in text as they are. */
    USER_DEFINED(4),
    UNUSED(5),
    /** {@code <0xNN>}: one byte of UTF-8, sentencepiece's byte fallback. */
    BYTE(6);

    private final int id;

    GgufTokenType(int id) {
        this.id = id;
    }

    public int id() {
        return id;
    }

    public static Optional<GgufTokenType> of(long id) {
        for (GgufTokenType t : values()) {
            if (t.id == id) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
