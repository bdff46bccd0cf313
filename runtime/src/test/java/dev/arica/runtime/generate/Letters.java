package dev.arica.runtime.generate;

import dev.arica.runtime.tokenizer.Tokenizer;

/** A test tokenizer: id i is the letter 'a' + i; no BOS or EOS of its own. */
final class Letters implements Tokenizer {
    private final int size;

    Letters(int size) {
        this.size = size;
    }

    @Override
    public int[] encode(String text, boolean addBos) {
        return text.chars().map(c -> c - 'a').toArray();
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
        return new byte[] {(byte) ('a' + id)};
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
