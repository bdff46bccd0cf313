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
