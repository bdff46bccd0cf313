package dev.arica.formats.llama2c;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/** Small llama2.c checkpoints and tokenizers built in code, laid out as the format's README describes. */
public final class Llama2cFixtures {
    private Llama2cFixtures() {}

    /** Number of float32 values after the header, from the README's layout. */
    static long floats(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen) {
        long v = Math.abs((long) vocab);
        long headSize = dim / heads;
        long kvDim = dim / heads * (long) kvHeads;
        long n = v * dim // token embedding
                + (long) layers * dim // rms_att
                + (long) layers * dim * dim // wq
                + 2L * layers * kvDim * dim // wk, wv
                + (long) layers * dim * dim // wo
                + (long) layers * dim // rms_ffn
                + 3L * layers * hidden * dim // w1, w2, w3
                + dim // rms_final
                + 2L * seqLen * (headSize / 2); // two legacy rotary tables
        if (vocab < 0) {
            n += v * dim; // separate classifier
        }
        return n;
    }

    static byte[] header(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen) {
        return ByteBuffer.allocate(28).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(dim).putInt(hidden).putInt(layers).putInt(heads).putInt(kvHeads).putInt(vocab).putInt(seqLen)
                .array();
    }

    /** A complete checkpoint whose i-th float is a seeded random value. */
    public static byte[] checkpoint(int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen, long seed) {
        long n = floats(dim, hidden, layers, heads, kvHeads, vocab, seqLen);
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(28 + 4 * n)).order(ByteOrder.LITTLE_ENDIAN);
        b.put(header(dim, hidden, layers, heads, kvHeads, vocab, seqLen));
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < n; i++) {
            b.putFloat((float) r.nextGaussian());
        }
        return b.array();
    }

    /** A tokenizer of {@code vocab} pieces: {@code <unk>}, {@code <s>}, {@code </s>}, then "p3", "p4", ... */
    static byte[] tokenizer(int vocab) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteBuffer i4 = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        out.writeBytes(i4.putInt(0, 8).array());
        for (int i = 0; i < vocab; i++) {
            String piece = switch (i) {
                case 0 -> "<unk>";
                case 1 -> "<s>";
                case 2 -> "</s>";
                default -> "p" + i;
            };
            byte[] p = piece.getBytes(StandardCharsets.UTF_8);
            out.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putFloat(-i).putInt(p.length).array());
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
