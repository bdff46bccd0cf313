package dev.arica.runtime.generate;

import java.io.IOException;

/**
 * A sequence run through a decoder once, from an empty cache, handing on the logits at every position
 * (teacher forcing: each position sees the ids given, not the model's choices). The ids are fed in chunks
 * through {@link Decoder#forwardAll}, so that the logits of one chunk, at most {@value #MAX_CHUNK_VALUES}
 * values, are all that is held at once however long the sequence.
 */
public final class ForwardPass {
    /** Most tokens fed in one call. */
    public static final int MAX_CHUNK = 256;
    /** Most logits one chunk yields: 4 MB of float32 (32 tokens at a vocabulary of 32 000). */
    public static final int MAX_CHUNK_VALUES = 1 << 20;

    private ForwardPass() {}

    /** Tokens per chunk for a vocabulary of {@code vocab}: at least 1, at most {@value #MAX_CHUNK}. */
    public static int chunkTokens(int vocab) {
        return Math.clamp(MAX_CHUNK_VALUES / vocab, 1, MAX_CHUNK);
    }

    /**
     * Resets {@code decoder}, feeds {@code ids} at positions 0, 1, ... and hands {@code sink} the logits
     * after each id, with its index in {@code ids}, in order.
     */
    public static void run(Decoder decoder, int[] ids, Decoder.LogitsSink sink) throws IOException {
        if (ids.length == 0) {
            throw new IllegalArgumentException("no ids to feed");
        }
        decoder.reset();
        int chunk = chunkTokens(decoder.vocabSize());
        for (int from = 0; from < ids.length; from += chunk) {
            int n = Math.min(chunk, ids.length - from);
            long[] fed = new long[n];
            long[] positions = new long[n];
            for (int i = 0; i < n; i++) {
                fed[i] = ids[from + i];
                positions[i] = from + i;
            }
            int offset = from;
            decoder.forwardAll(fed, positions, (i, logits) -> sink.accept(offset + i, logits));
        }
    }
}
