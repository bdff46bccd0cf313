package dev.arica.runtime.validate;

import dev.arica.runtime.generate.Decoder;
import java.util.Random;

/**
 * A test decoder whose logits depend on the last token fed alone: row {@code table[id]}, seeded random
 * values times {@code scale}. It refuses to hold more than its context, and counts what it was fed.
 */
final class BigramDecoder implements Decoder {
    final float[][] table;
    final int context;
    int cache;
    int mostHeld;
    int tokensFed;

    BigramDecoder(int vocab, int context, long seed, float scale) {
        this.context = context;
        Random r = new Random(seed);
        table = new float[vocab][vocab];
        for (float[] row : table) {
            for (int v = 0; v < vocab; v++) {
                row[v] = (float) (scale * r.nextGaussian());
            }
        }
    }

    /** The same table as {@code other} with each logit multiplied by {@code factor}: a sharper or flatter model. */
    BigramDecoder(BigramDecoder other, float factor) {
        this.context = other.context;
        table = new float[other.table.length][];
        for (int i = 0; i < table.length; i++) {
            table[i] = other.table[i].clone();
            for (int v = 0; v < table[i].length; v++) {
                table[i][v] *= factor;
            }
        }
    }

    @Override
    public float[] forward(long[] ids, long[] positions) {
        for (int i = 0; i < ids.length; i++) {
            if (positions[i] != cache + i) {
                throw new IllegalArgumentException("position " + positions[i] + " after " + cache);
            }
        }
        if (context > 0 && cache + ids.length > context) {
            throw new IllegalArgumentException((cache + ids.length) + " positions exceed the context " + context);
        }
        cache += ids.length;
        tokensFed += ids.length;
        mostHeld = Math.max(mostHeld, cache);
        return table[(int) ids[ids.length - 1]].clone();
    }

    @Override
    public int vocabSize() {
        return table.length;
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
        cache = 0;
    }

    @Override
    public void close() {}
}
