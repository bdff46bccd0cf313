package dev.arica.runtime.tokenizer;

/**
 * {@code clean_up_tokenization_spaces}: the spaces word-level decoding leaves before punctuation and English
 * contractions removed (" ." to ".", " n't" to "n't"), replacement after replacement, as transformers'
 * {@code clean_up_tokenization} does; tokenizers' WordPiece decoder also turns " do not" into " don't".
 */
final class SpaceCleanup {
    private static final String[][] TRANSFORMERS = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};
    private static final String[][] WORD_PIECE = {{" .", "."}, {" ?", "?"}, {" !", "!"}, {" ,", ","}, {" ' ", "'"},
        {" n't", "n't"}, {" 'm", "'m"}, {" do not", " don't"}, {" 's", "'s"}, {" 've", "'ve"}, {" 're", "'re"}};

    /**
     * How far back from the end of a text appending more can change the clean-up: the replacements add up to
     * fewer characters than this, so text before the first space in the last {@code REACH} characters is final.
     */
    static final int REACH = 40;

    private SpaceCleanup() {}

    /** transformers' clean-up, applied to a whole decoded text. */
    static String transformers(String s) {
        return apply(s, TRANSFORMERS);
    }

    /** tokenizers' WordPiece decoder clean-up, applied to each token. */
    static String wordPiece(String s) {
        return apply(s, WORD_PIECE);
    }

    private static String apply(String s, String[][] rules) {
        if (s.indexOf(' ') < 0) {
            return s;
        }
        for (String[] r : rules) {
            s = s.replace(r[0], r[1]);
        }
        return s;
    }

    /** The length of the start of {@code cleaned} that no text appended later can change. */
    static int settled(String cleaned) {
        int from = Math.max(0, cleaned.length() - REACH);
        int space = cleaned.indexOf(' ', from);
        return space < 0 ? cleaned.length() : space;
    }
}
