package dev.arica.runtime.tokenizer;

import dev.arica.formats.FormatException;
import dev.arica.formats.llama2c.Llama2cCheckpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

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
     * The post-processed encoding of {@code text}, or of the pair {@code text}, {@code pair} when {@code pair}
     * is not null: with {@code addSpecialTokens} the special tokens the tokenizer puts around a sequence
     * (BOS; [CLS] ... [SEP]; a template's tokens on both sides), as tokenizers' {@code encode} does. The
     * second sequence of a pair has type id 1 unless the post-processor says otherwise.
     */
    default Encoding encode(String text, String pair, boolean addSpecialTokens) {
        int[] a = encode(text, addSpecialTokens);
        if (pair == null) {
            return Encoding.of(a);
        }
        int[] b = encode(pair, false);
        return new Encoding.Builder().add(a, 0).add(b, 1).build();
    }

    /**
     * The bytes {@code token} contributes to the text when it follows {@code previous}, the last token that
     * was not skipped ({@code -1} at the start of the text), decoded with {@link DecodeOptions#DEFAULT}.
     * Bytes, not a String: one token may hold part of a UTF-8 character, which {@link TokenTextStream}
     * completes with the next tokens. Control tokens (BOS, EOS, special tokens) contribute nothing.
     */
    byte[] decodeBytes(int previous, int token);

    /** As {@link #decodeBytes(int, int)} with other options; tokenizers without special tokens ignore them. */
    default byte[] decodeBytes(int previous, int token, DecodeOptions options) {
        return decodeBytes(previous, token);
    }

    /** True for the tokens that decoding with {@code skipSpecialTokens} drops. */
    default boolean isSpecial(int id) {
        return false;
    }

    /**
     * True for a byte-fallback token ({@code <0xNN>} under a ByteFallback decoder): a run of them is text
     * only when its bytes are valid UTF-8 as a whole, else each token of it becomes U+FFFD.
     */
    default boolean isFallbackByte(int id) {
        return false;
    }

    /** Whether decoding cleans up spaces before punctuation by default ({@code clean_up_tokenization_spaces}). */
    default boolean cleanUpTokenizationSpaces() {
        return false;
    }

    /** The text of a sequence of ids, special tokens dropped, invalid UTF-8 replaced by U+FFFD. */
    default String decode(int[] ids) {
        return decode(ids, DecodeOptions.DEFAULT);
    }

    /** The text of a sequence of ids decoded with {@code options}, invalid UTF-8 replaced by U+FFFD. */
    default String decode(int[] ids, DecodeOptions options) {
        TokenTextStream stream = new TokenTextStream(this, options);
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

    /** The files a model directory's tokenizer may be in, in the order {@link #open} looks for them. */
    static List<String> files() {
        return List.of(HF_FILE, Llama2cCheckpoint.TOKENIZER_NAME, AricateWordTokenizer.VOCAB_FILE + " with "
                + AricateWordTokenizer.CONFIG_FILE);
    }

    /** True when files of these names may hold a tokenizer {@link #open} reads (by name: the contents are read then). */
    static boolean among(java.util.Collection<String> names) {
        return names.contains(HF_FILE) || names.contains(Llama2cCheckpoint.TOKENIZER_NAME)
                || names.contains(AricateWordTokenizer.VOCAB_FILE) && names.contains(AricateWordTokenizer.CONFIG_FILE);
    }

    /** True when {@code dir} holds a tokenizer that {@link #open} reads. */
    static boolean presentIn(Path dir) {
        return Files.isRegularFile(dir.resolve(HF_FILE)) || Files.isRegularFile(dir.resolve(Llama2cCheckpoint.TOKENIZER_NAME))
                || AricateWordTokenizer.isDirectory(dir);
    }

    /**
     * Opens a tokenizer file ({@code tokenizer.json}, an Aricate {@code vocab.json}, or a llama2.c {@code .bin})
     * or the tokenizer of a model directory (its {@code tokenizer.json}, else its {@code tokenizer.llama2c.bin},
     * else its {@code vocab.json} with a {@code tokenizer_config.json} naming {@code AricateWordTokenizer}).
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
            if (AricateWordTokenizer.isDirectory(path)) {
                return AricateWordTokenizer.read(path.resolve(AricateWordTokenizer.VOCAB_FILE));
            }
            throw new FormatException(path, "has no tokenizer (looked for " + String.join(", ", files()) + ")");
        }
        if (path.getFileName() != null && path.getFileName().toString().endsWith(".json")) {
            // A tokenizer.json is an object with a model; a word vocabulary maps tokens to ids and nothing else.
            return AricateWordTokenizer.isVocabulary(path) ? AricateWordTokenizer.read(path) : HfTokenizer.read(path);
        }
        return Llama2cBpeTokenizer.read(path);
    }
}
