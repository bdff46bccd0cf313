package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.util.List;
import java.util.Map;

/** WordLevel: each pre-tokenized word is one vocabulary entry, else the unknown token. */
final class WordLevelModel implements HfModel {
    private final Map<String, Integer> vocab;
    private final String unkToken;
    private final int unkId;

    private WordLevelModel(Map<String, Integer> vocab, String unkToken, int unkId) {
        this.vocab = vocab;
        this.unkToken = unkToken;
        this.unkId = unkId;
    }

    static WordLevelModel parse(JsonNode model, TokenizerJson json, String where) throws FormatException {
        Map<String, Integer> vocab = json.vocabObject(model, "vocab", where);
        String unk = json.optionalText(model, "unk_token", where);
        // tokenizers reads the model without the unknown token and fails on the first unknown word.
        return new WordLevelModel(vocab, unk, unk != null && vocab.containsKey(unk) ? vocab.get(unk) : -1);
    }

    @Override
    public Map<String, Integer> vocab() {
        return vocab;
    }

    @Override
    public void tokenize(String word, IntList out) {
        Integer id = vocab.get(word);
        if (id == null && unkId < 0) {
            throw new IllegalArgumentException("'" + word + "' is not in the WordLevel vocabulary, which has no unknown token"
                    + (unkToken == null ? "" : " ('" + unkToken + "' is not in it)"));
        }
        out.add(id == null ? unkId : id);
    }
}
