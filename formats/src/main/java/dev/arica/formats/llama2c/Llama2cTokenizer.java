package dev.arica.formats.llama2c;

import dev.arica.formats.FormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A llama2.c tokenizer file ({@code tok512.bin}): int32 max_token_length, then per token a float32
 * score, an int32 byte length and the piece's bytes. Read fully and validated; files are kilobytes.
 */
public final class Llama2cTokenizer {
    /** Longest tokenizer file accepted; real ones are well under a megabyte. */
    public static final long MAX_FILE_BYTES = 64L << 20;
    /** <unk>, <s> and </s>, at ids 0 to 2. */
    static final int FIXED_TOKENS = 3;

    private final int maxTokenLength;
    private final float[] scores;
    private final byte[][] pieces;

    private Llama2cTokenizer(int maxTokenLength, float[] scores, byte[][] pieces) {
        this.maxTokenLength = maxTokenLength;
        this.scores = scores;
        this.pieces = pieces;
    }

    /** Reads and validates a tokenizer of exactly {@code vocabSize} tokens. */
    public static Llama2cTokenizer read(Path file, int vocabSize) throws IOException {
        if (vocabSize < 0) {
            throw new IllegalArgumentException("vocabSize " + vocabSize);
        }
        return read(file, vocabSize, true);
    }

    /**
     * Reads a tokenizer whose token count is not known beforehand (the file does not record it): tokens
     * are read until the file ends, which must be at a token boundary.
     */
    public static Llama2cTokenizer read(Path file) throws IOException {
        return read(file, -1, false);
    }

    /**
     * Parses a tokenizer of exactly {@code vocabSize} tokens from its bytes (a copy embedded elsewhere, an .arica
     * file's); {@code file} names it in errors.
     */
    public static Llama2cTokenizer parse(Path file, byte[] bytes, int vocabSize) throws FormatException {
        if (vocabSize < 0) {
            throw new IllegalArgumentException("vocabSize " + vocabSize);
        }
        return parse(file, bytes, vocabSize, true);
    }

    private static Llama2cTokenizer read(Path file, int vocabSize, boolean exact) throws IOException {
        long size = Files.size(file);
        if (size > MAX_FILE_BYTES) {
            throw new FormatException(file, "tokenizer file is " + size + " bytes, more than the " + MAX_FILE_BYTES + " accepted");
        }
        return parse(file, Files.readAllBytes(file), vocabSize, exact);
    }

    private static Llama2cTokenizer parse(Path file, byte[] bytes, int vocabSize, boolean exact) throws FormatException {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 4) {
            throw new FormatException(file, "tokenizer file is too short for its 4-byte header");
        }
        int maxLen = b.getInt();
        if (maxLen <= 0) {
            throw new FormatException(file, "tokenizer max_token_length is " + maxLen + ", must be positive");
        }
        List<Float> scores = new ArrayList<>();
        List<byte[]> pieces = new ArrayList<>();
        for (int i = 0; exact ? i < vocabSize : b.hasRemaining(); i++) {
            if (b.remaining() < 8) {
                throw new FormatException(file, exact ? "tokenizer ends at token " + i + " of " + vocabSize
                        : "tokenizer ends inside token " + i + " (" + b.remaining() + " bytes left, a token needs at least 8)");
            }
            scores.add(b.getFloat());
            int len = b.getInt();
            if (len < 0 || len > b.remaining()) {
                throw new FormatException(file, "token " + i + " has length " + len + ", beyond the end of the file");
            }
            byte[] piece = new byte[len];
            b.get(piece);
            pieces.add(piece);
        }
        if (b.hasRemaining()) {
            // Only reachable when exact: the open-ended read stops at the end of the file.
            throw new FormatException(file, b.remaining() + " bytes left after the " + vocabSize
                    + " tokens the model's vocabulary has");
        }
        if (pieces.size() < FIXED_TOKENS) {
            // Ids 0 to 2 are <unk>, <s> and </s> by the format: every user of the vocabulary takes them as given.
            throw new FormatException(file, pieces.isEmpty() ? "tokenizer has no tokens" : "tokenizer has " + pieces.size()
                    + " tokens, fewer than the " + FIXED_TOKENS + " whose ids the format fixes (<unk>, <s>, </s>)");
        }
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
        }
        return new Llama2cTokenizer(maxLen, s, pieces.toArray(new byte[0][]));
    }

    public int vocabSize() {
        return pieces.length;
    }

    public int maxTokenLength() {
        return maxTokenLength;
    }

    public float score(int id) {
        return scores[id];
    }

    /** The piece's bytes (a copy). */
    public byte[] piece(int id) {
        return pieces[id].clone();
    }
}
