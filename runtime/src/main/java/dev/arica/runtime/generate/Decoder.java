package dev.arica.runtime.generate;

import java.io.IOException;

/**
 * A causal language model run one chunk at a time. It keeps its key/value cache between calls, so each
 * call feeds only the new tokens: the prompt once, then one token per step.
 */
public interface Decoder extends AutoCloseable {

    /**
     * Feeds {@code ids} at {@code positions}, which must continue the cache ({@link #cacheLength()},
     * +1, ...), and returns the logits after the last of them ({@link #vocabSize()} values).
     */
    float[] forward(long[] ids, long[] positions) throws IOException;

    /** Receives the logits of each fed position in turn; {@code logits} may be reused once the call returns. */
    @FunctionalInterface
    interface LogitsSink {
        /** @param index the position's index among the ids fed, from 0 */
        void accept(int index, float[] logits) throws IOException;
    }

    /**
     * Feeds {@code ids} at {@code positions} as {@link #forward} does, and hands {@code sink} the logits
     * after each of them, in order (teacher forcing needs every position's, not the last alone). This
     * default feeds one token per call; a decoder whose model gives every position's logits does it in one.
     */
    default void forwardAll(long[] ids, long[] positions, LogitsSink sink) throws IOException {
        if (ids.length != positions.length) {
            throw new IllegalArgumentException(ids.length + " ids with " + positions.length + " positions");
        }
        for (int i = 0; i < ids.length; i++) {
            sink.accept(i, forward(new long[] {ids[i]}, new long[] {positions[i]}));
        }
    }

    int vocabSize();

    /** Tokens held in the cache: the position the next token gets. */
    int cacheLength();

    /** Most positions the model takes, or 0 when unknown. */
    default int contextLength() {
        return 0;
    }

    /** Forgets the cache; the next call starts at position 0. */
    void reset() throws IOException;

    @Override
    void close() throws IOException;
}
