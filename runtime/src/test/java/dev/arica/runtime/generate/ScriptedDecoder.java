package dev.arica.runtime.generate;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A test decoder whose greedy choice after its k-th forward call is {@code script[k]}; it records every
 * call so tests can see what the generator fed.
 */
final class ScriptedDecoder implements Decoder {
    final int vocab;
    final int[] script;
    final int context;
    final List<long[]> fedIds = new ArrayList<>();
    final List<long[]> fedPositions = new ArrayList<>();
    int resets;
    private int cache;
    private int calls;

    ScriptedDecoder(int vocab, int context, int... script) {
        this.vocab = vocab;
        this.context = context;
        this.script = script;
    }

    @Override
    public float[] forward(long[] ids, long[] positions) {
        for (int i = 0; i < ids.length; i++) {
            if (positions[i] != cache + i) {
                throw new IllegalArgumentException("position " + positions[i] + " after " + cache);
            }
        }
        fedIds.add(ids.clone());
        fedPositions.add(positions.clone());
        cache += ids.length;
        float[] logits = new float[vocab];
        Arrays.fill(logits, -1);
        logits[script[calls++]] = 1;
        return logits;
    }

    /** The positions fed by each {@link #forwardAll} call, which feeds them one {@link #forward} at a time. */
    final List<long[]> forwardAllPositions = new ArrayList<>();

    @Override
    public void forwardAll(long[] ids, long[] positions, LogitsSink sink) throws java.io.IOException {
        forwardAllPositions.add(positions.clone());
        Decoder.super.forwardAll(ids, positions, sink);
    }

    @Override
    public int vocabSize() {
        return vocab;
    }

    @Override
    public int cacheLength() {
        return cache;
    }

    @Override
    public int contextLength() {
        return context;
    }

    @Override
    public void reset() {
        resets++;
        cache = 0;
        calls = 0;
    }

    @Override
    public void close() {}
}
