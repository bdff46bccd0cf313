package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.util.List;
import java.util.Map;

/**
 * WordPiece (BERT): the longest vocabulary entry at the start of the word, then the longest entry with the
 * continuation prefix ({@code ##}) at each later position; a word with a position no entry starts at, or
 * longer than {@code max_input_chars_per_word} characters, is the unknown token as a whole.
 */
final class WordPieceModel implements HfModel {
    private final Map<String, Integer> vocab;
    private final int unkId;
    private final String prefix;
    private final int maxChars;

    private WordPieceModel(Map<String, Integer> vocab, int unkId, String prefix, int maxChars) {
        this.vocab = vocab;
        this.unkId = unkId;
        this.prefix = prefix;
        this.maxChars = maxChars;
    }

    static WordPieceModel parse(JsonNode model, TokenizerJson json, String where) throws FormatException {
        Map<String, Integer> vocab = json.vocabObject(model, "vocab", where);
        String prefix = json.optionalText(model, "continuing_subword_prefix", where);
        return new WordPieceModel(vocab, json.tokenId(model, "unk_token", vocab, where), prefix == null ? "##" : prefix,
                json.optionalInt(model, "max_input_chars_per_word", 100, where));
    }

    @Override
    public Map<String, Integer> vocab() {
        return vocab;
    }

    @Override
    public void tokenize(String word, IntList out) {
        if (word.codePointCount(0, word.length()) > maxChars) {
            out.add(unkId);
            return;
        }
        IntList pieces = new IntList();
        int start = 0;
        while (start < word.length()) {
            int end = word.length();
            Integer found = null;
            while (start < end) {
                String piece = start > 0 ? prefix + word.substring(start, end) : word.substring(start, end);
                found = vocab.get(piece);
                if (found != null) {
                    break;
                }
                end -= Character.charCount(word.codePointBefore(end));
            }
            if (found == null) {
                out.add(unkId);
                return;
            }
            pieces.add(found);
            start = end;
        }
        out.addAll(pieces);
    }
}
