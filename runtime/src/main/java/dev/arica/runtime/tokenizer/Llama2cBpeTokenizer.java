package dev.arica.runtime.tokenizer;

import dev.arica.formats.llama2c.Llama2cTokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The llama2.c tokenizer ({@code tok512.bin}, {@code tokenizer.llama2c.bin}), encoding and decoding as
 * llama2.c's {@code run.c} does: BOS, a dummy-prefix space piece for non-empty text, one piece per UTF-8
 * code point (raw bytes as byte tokens, id = byte + 3, when the code point has no piece), then merges of
 * the adjacent pair whose concatenation is the highest-scoring piece, leftmost on ties.
 */
public final class Llama2cBpeTokenizer implements Tokenizer {
    /** Fixed ids of this format. */
    public static final int UNK = 0, BOS = 1, EOS = 2;
    /** Byte tokens {@code <0x00>..<0xFF>} start at this id. */
    static final int BYTE_OFFSET = 3;

    private final byte[][] pieces;
    private final float[] scores;
    private final Map<Piece, Integer> ids;
    private final byte[][] decoded;

    /** A piece as a hash key; pieces are bytes, not necessarily valid UTF-8. */
    private record Piece(byte[] bytes) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Piece p && Arrays.equals(bytes, p.bytes);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(bytes);
        }
    }

    private Llama2cBpeTokenizer(Llama2cTokenizer file) {
        int n = file.vocabSize();
        pieces = new byte[n][];
        scores = new float[n];
        ids = new HashMap<>(2 * n);
        decoded = new byte[n][];
        for (int i = 0; i < n; i++) {
            pieces[i] = file.piece(i);
            scores[i] = file.score(i);
            // llama2.c finds pieces by binary search over a sorted copy; with duplicates the lowest id wins here.
            ids.putIfAbsent(new Piece(pieces[i]), i);
            int b = byteValue(pieces[i]);
            decoded[i] = b >= 0 ? new byte[] {(byte) b} : pieces[i];
        }
    }

    /** Reads a llama2.c tokenizer file of any vocabulary size. */
    public static Llama2cBpeTokenizer read(Path file) throws IOException {
        return new Llama2cBpeTokenizer(Llama2cTokenizer.read(file));
    }

    /** Wraps a tokenizer file read by the formats module. */
    public static Llama2cBpeTokenizer of(Llama2cTokenizer file) {
        return new Llama2cBpeTokenizer(file);
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        List<Integer> tokens = new ArrayList<>();
        if (addBos) {
            tokens.add(BOS);
        }
        Integer space = ids.get(new Piece(new byte[] {' '}));
        if (!text.isEmpty() && space != null) {
            tokens.add(space);
        }
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < utf8.length; ) {
            int end = i + 1;
            // A code point is a lead byte and at most three continuation bytes (10xxxxxx).
            while (end < utf8.length && (utf8[end] & 0xC0) == 0x80 && end - i < 4) {
                end++;
            }
            Integer id = ids.get(new Piece(Arrays.copyOfRange(utf8, i, end)));
            if (id != null) {
                tokens.add(id);
            } else {
                for (int k = i; k < end; k++) {
                    int byteToken = (utf8[k] & 0xFF) + BYTE_OFFSET;
                    tokens.add(byteToken < pieces.length ? byteToken : UNK);
                }
            }
            i = end;
        }
        int[] start = tokens.stream().mapToInt(Integer::intValue).toArray();
        // BOS takes part in the merge loop as in run.c; no piece starts with it, so it never merges.
        return BpeMerger.merge(start, new BpeMerger.PairRule() {
            @Override
            public int merged(int left, int right) {
                byte[] l = pieces[left], r = pieces[right];
                byte[] both = Arrays.copyOf(l, l.length + r.length);
                System.arraycopy(r, 0, both, l.length, r.length);
                Integer id = ids.get(new Piece(both));
                return id == null ? -1 : id;
            }

            @Override
            public double priority(int left, int right, int merged) {
                return -scores[merged];
            }
        });
    }

    /**
     * The piece's bytes; after BOS a leading space is dropped, and a {@code <0xNN>} piece is the byte NN.
     * BOS and EOS contribute nothing (run.c never prints them).
     */
    @Override
    public byte[] decodeBytes(int previous, int token) {
        checkId(token);
        if (token == BOS || token == EOS) {
            return new byte[0];
        }
        byte[] piece = pieces[token];
        if (previous == BOS && piece.length > 0 && piece[0] == ' ') {
            return Arrays.copyOfRange(piece, 1, piece.length);
        }
        return decoded[token].clone();
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public byte[] tokenBytes(int id) {
        checkId(id);
        return pieces[id].clone();
    }

    /** The piece's score: the merge priority of the piece. */
    public float score(int id) {
        checkId(id);
        return scores[id];
    }

    @Override
    public int bosId() {
        return BOS < pieces.length ? BOS : -1;
    }

    /**
     * EOS (2) and BOS (1): llama2.c models end a story by starting the next one with BOS, and run.c stops
     * there (see the stories260K README).
     */
    @Override
    public int[] eosIds() {
        return pieces.length > EOS ? new int[] {EOS, BOS} : new int[0];
    }

    private void checkId(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " is outside the vocabulary of " + pieces.length);
        }
    }

    /** NN for a piece spelled exactly {@code <0xNN>} (hex digits either case), else -1. */
    static int byteValue(byte[] piece) {
        if (piece.length != 6 || piece[0] != '<' || piece[1] != '0' || piece[2] != 'x' || piece[5] != '>') {
            return -1;
        }
        int hi = Character.digit(piece[3], 16), lo = Character.digit(piece[4], 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }
}
