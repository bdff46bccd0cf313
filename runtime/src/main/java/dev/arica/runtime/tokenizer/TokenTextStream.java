package dev.arica.runtime.tokenizer;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Turns a stream of token ids into text as it is produced: each token's bytes are appended and every
 * complete UTF-8 character is handed out at once; a character split across tokens waits for its rest, and
 * ill-formed bytes become U+FFFD as Rust's {@code from_utf8_lossy} makes them. A run of byte-fallback
 * tokens waits until it ends, since it counts as text only when it is valid UTF-8 as a whole; with space
 * clean-up, the last few characters wait until no later token can change them. The text is the same as
 * {@link Tokenizer#decode(int[], DecodeOptions)} of all the ids. Not thread-safe: one stream per generation.
 */
public final class TokenTextStream {
    private final Tokenizer tokenizer;
    private final DecodeOptions options;
    /** Bytes of an unfinished character. */
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
    /** The bytes of the current run of byte-fallback tokens, and how many tokens it has. */
    private final ByteArrayOutputStream run = new ByteArrayOutputStream();
    private int runTokens;
    /** The last token not skipped, -1 while there is none. */
    private int previous = -1;
    /** With clean-up: all the decoded text, and how much of its cleaned form was handed out. */
    private final StringBuilder raw = new StringBuilder();
    private int handedOut;

    public TokenTextStream(Tokenizer tokenizer) {
        this(tokenizer, DecodeOptions.DEFAULT);
    }

    public TokenTextStream(Tokenizer tokenizer, DecodeOptions options) {
        this.tokenizer = tokenizer;
        this.options = options;
    }

    /**
     * Starts after {@code previous} (e.g. the last prompt token) instead of at the start of the text; a
     * skipped special token (BOS) there counts as the start, so the first token loses its leading space.
     */
    public TokenTextStream(Tokenizer tokenizer, int previous) {
        this(tokenizer);
        this.previous = previous < 0 || skipped(previous) ? -1 : previous;
    }

    private boolean skipped(int token) {
        return options.skipSpecialTokens() && tokenizer.isSpecial(token);
    }

    /** The text completed by {@code token} (possibly empty). */
    public String push(int token) {
        if (skipped(token)) {
            return "";
        }
        byte[] bytes = tokenizer.decodeBytes(previous, token, options);
        previous = token;
        if (tokenizer.isFallbackByte(token)) {
            run.writeBytes(bytes);
            runTokens++;
            return "";
        }
        return endRun() + pushBytes(bytes);
    }

    /** Appends raw bytes and returns the characters they complete. */
    String pushBytes(byte[] bytes) {
        pending.writeBytes(bytes);
        return clean(drain(false), false);
    }

    /** Whatever is left: an unfinished character becomes U+FFFD. */
    public String finish() {
        String last = endRun();
        return last + clean(drain(true), true);
    }

    /** The text of a finished run of byte-fallback tokens: its bytes if valid UTF-8, else U+FFFD for each token. */
    private String endRun() {
        if (runTokens == 0) {
            return "";
        }
        byte[] bytes = run.toByteArray();
        run.reset();
        int n = runTokens;
        runTokens = 0;
        return pushBytes(Utf8Lossy.valid(bytes, bytes.length) ? bytes
                : "\uFFFD".repeat(n).getBytes(StandardCharsets.UTF_8));
    }

    private String clean(String text, boolean end) {
        if (!options.cleanUpSpaces()) {
            return text;
        }
        // The clean-up is not idempotent, so it runs over the whole raw text each time.
        raw.append(text);
        String cleaned = SpaceCleanup.transformers(raw.toString());
        int n = Math.max(handedOut, end ? cleaned.length() : SpaceCleanup.settled(cleaned));
        String out = cleaned.substring(handedOut, n);
        handedOut = n;
        return out;
    }

    private String drain(boolean end) {
        byte[] bytes = pending.toByteArray();
        StringBuilder out = new StringBuilder(bytes.length);
        int used = Utf8Lossy.decode(bytes, bytes.length, end, out);
        pending.reset();
        pending.write(bytes, used, bytes.length - used);
        return out.toString();
    }
}
