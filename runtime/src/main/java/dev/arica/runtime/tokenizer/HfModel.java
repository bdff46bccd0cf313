package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.util.Map;

/** The {@code model} of a tokenizer.json: turns one pre-tokenized word into ids. */
sealed interface HfModel permits BpeModel, WordPieceModel, UnigramModel, WordLevelModel {

    String SUPPORTED = "BPE, WordPiece, Unigram, WordLevel";

    /** The model's own vocabulary (added tokens not included): token to id. */
    Map<String, Integer> vocab();

    /** Appends the ids of {@code word} (non-empty) to {@code out}. */
    void tokenize(String word, IntList out);

    static HfModel parse(JsonNode node, TokenizerJson json) throws FormatException {
        String where = "model";
        // Files written by old versions of tokenizers may leave out the type; the fields tell it apart.
        String type = node != null && node.isObject() && !node.has("type") ? untyped(node) : json.type(node, where);
        return switch (type) {
            case "BPE" -> BpeModel.parse(node, json, where);
            case "WordPiece" -> WordPieceModel.parse(node, json, where);
            case "Unigram" -> UnigramModel.parse(node, json, where);
            case "WordLevel" -> WordLevelModel.parse(node, json, where);
            default -> throw json.error(where, "type '" + type + "' is not supported (supported: " + SUPPORTED + ")");
        };
    }

    private static String untyped(JsonNode node) {
        if (node.has("merges")) {
            return "BPE";
        }
        if (node.has("continuing_subword_prefix")) {
            return "WordPiece";
        }
        return node.path("vocab").isArray() ? "Unigram" : "WordLevel";
    }
}
