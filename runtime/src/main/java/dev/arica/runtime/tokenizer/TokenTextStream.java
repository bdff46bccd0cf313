package dev.arica.runtime.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Turns a stream of token ids into text as it is produced: each token's bytes are appended and every
 * complete UTF-8 character is handed out at once; a character split across tokens waits for its rest.
 * Not thread-safe: one stream per generation.
 */
public final class TokenTextStream {
    private final Tokenizer tokenizer;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    private int previous = -1;

    public TokenTextStream(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /** Starts after {@code previous} (e.g. the last prompt token) instead of at the start of the text. */
    public TokenTextStream(Tokenizer tokenizer, int previous) {
        this(tokenizer);
        this.previous = previous;
    }

    /** The text completed by {@code token} (possibly empty). */
    public String push(int token) {
        byte[] bytes = tokenizer.decodeBytes(previous, token);
        previous = token;
        return pushBytes(bytes);
    }

    /** Appends raw bytes and returns the characters they complete. */
    String pushBytes(byte[] bytes) {
        pending.writeBytes(bytes);
        return drain(false);
    }

    /** Whatever is left: an unfinished character becomes U+FFFD. */
    public String finish() {
        return drain(true);
    }

    private String drain(boolean end) {
        ByteBuffer in = ByteBuffer.wrap(pending.toByteArray());
        CharBuffer out = CharBuffer.allocate(in.remaining() + 2);
        utf8.decode(in, out, end);
        if (end) {
            utf8.flush(out);
            utf8.reset();
        }
        pending.reset();
        pending.write(in.array(), in.position(), in.remaining());
        return out.flip().toString();
    }
}
