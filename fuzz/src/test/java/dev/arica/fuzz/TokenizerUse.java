package dev.arica.fuzz;

import dev.arica.runtime.tokenizer.Tokenizer;

/** The validation of a tokenizer a reader returns: it encodes a mixed text into ids it has, and decodes each one. */
final class TokenizerUse {

    /** Letters, digits, punctuation, spaces, accents, CJK, an emoji and bracketed specials. */
    static final String TEXT = "Hello, world! It's 2026 -- caf\u00e9 na\u00efve \u65e5\u672c\u8a9e \ud83d\ude00 <unk> [CLS]\n\t  end.";

    private TokenizerUse() {
    }

    static void check(Tokenizer t) {
        int vocab = t.vocabSize();
        int[] ids;
        try {
            ids = t.encode(TEXT, true);
        } catch (IllegalArgumentException e) {
            // As Hugging Face's tokenizers, a WordLevel or Unigram model without its unknown token reads, then refuses
            // what its vocabulary cannot spell.
            String m = e.getMessage();
            if (!(m.contains("which has no unknown token") || m.contains("which has no unk_id")) || m.indexOf('\n') >= 0) {
                throw e;
            }
            return;
        }
        int previous = -1;
        for (int id : ids) {
            if (id < 0 || id >= vocab) {
                throw new AssertionError("encoded id " + id + " outside the vocabulary of " + vocab);
            }
            t.decodeBytes(previous, id);
            t.tokenBytes(id);
            previous = id;
        }
        t.eosIds();
    }
}
