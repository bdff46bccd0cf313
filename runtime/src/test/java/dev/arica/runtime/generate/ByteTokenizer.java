package dev.arica.runtime.generate;

import dev.arica.runtime.tokenizer.Tokenizer;

/** A test tokenizer: id i is the single byte {@code first + i}; no BOS or EOS of its own. */
final class ByteTokenizer implements Tokenizer {
    /** Every byte, so that a character can span tokens. */
    static final ByteTokenizer BYTES = new ByteTokenizer(256, 0);

    private final int size;
    private final int first;

    ByteTokenizer(int size, int first) {
        this.size = size;
        this.first = first;
    }

    /** Ids 0.. as the letters a, b, c, ... */
    static ByteTokenizer letters(int size) {
        return new ByteTokenizer(size, 'a');
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        return text.chars().map(c -> c - first).toArray();
    }

    @Override
    public byte[] decodeBytes(int previous, int token) {
        return tokenBytes(token);
    }

    @Override
    public int vocabSize() {
        return size;
    }

    @Override
    public byte[] tokenBytes(int id) {
        return new byte[] {(byte) (first + id)};
    }

    @Override
    public int bosId() {
        return -1;
    }

    @Override
    public int[] eosIds() {
        return new int[0];
    }
}
