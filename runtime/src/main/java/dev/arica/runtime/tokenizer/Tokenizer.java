package dev.arica.runtime.tokenizer;

import dev.arica.formats.FormatException;
import dev.arica.formats.llama2c.Llama2cCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Text to token ids and back. Implementations are immutable and safe to share between threads; the
 * streaming state of a decode lives in a {@link TokenTextStream}.
 */
public interface Tokenizer {

    /** The Hugging Face tokenizer file of a model directory. */
    String HF_FILE = "tokenizer.json";

    /** Token ids of {@code text}; with {@code addBos} the beginning-of-sequence id first (when there is one). */
    int[] encode(String text, boolean addBos);

    /**
     * The bytes {@code token} contributes to the text when it follows {@code previous} ({@code -1} at the
     * start of the text). Bytes, not a String: one token may hold part of a UTF-8 character, which
     * {@link TokenTextStream} completes with the next tokens. Control tokens (BOS, EOS, special tokens)
     * contribute nothing.
     */
    byte[] decodeBytes(int previous, int token);

    /** The text of a sequence of ids, invalid UTF-8 replaced by U+FFFD. */
    default String decode(int[] ids) {
        TokenTextStream stream = new TokenTextStream(this);
        StringBuilder b = new StringBuilder();
        for (int id : ids) {
            b.append(stream.push(id));
        }
        return b.append(stream.finish()).toString();
    }

    /** Number of ids: one more than the largest id. */
    int vocabSize();

    /** The vocabulary entry of {@code id} as stored (UTF-8 for text vocabularies); empty for an unused id. */
    byte[] tokenBytes(int id);

    /** Beginning-of-sequence id, or -1 when the tokenizer has none. */
    int bosId();

    /** End-of-sequence ids the tokenizer knows of (a copy; may be empty). */
    int[] eosIds();

    /** True when both map the same ids to the same vocabulary entries (scores and merges not compared). */
    default boolean sameVocabulary(Tokenizer other) {
        if (other.vocabSize() != vocabSize()) {
            return false;
        }
        for (int id = 0; id < vocabSize(); id++) {
            if (!Arrays.equals(tokenBytes(id), other.tokenBytes(id))) {
                return false;
            }
        }
        return true;
    }

    /**
     * Opens a tokenizer file ({@code tokenizer.json}, or a llama2.c {@code .bin}) or the tokenizer of a
     * model directory (its {@code tokenizer.json}, else its {@code tokenizer.llama2c.bin}).
     */
    static Tokenizer open(Path path) throws IOException {
        if (Files.isDirectory(path)) {
            Path hf = path.resolve(HF_FILE);
            if (Files.isRegularFile(hf)) {
                return HfTokenizer.read(hf);
            }
            Path l2c = path.resolve(Llama2cCheckpoint.TOKENIZER_NAME);
            if (Files.isRegularFile(l2c)) {
                return Llama2cBpeTokenizer.read(l2c);
            }
            throw new FormatException(path, "has no tokenizer (looked for " + HF_FILE + " and "
                    + Llama2cCheckpoint.TOKENIZER_NAME + ")");
        }
        if (path.getFileName() != null && path.getFileName().toString().endsWith(".json")) {
            return HfTokenizer.read(path);
        }
        return Llama2cBpeTokenizer.read(path);
    }
}
