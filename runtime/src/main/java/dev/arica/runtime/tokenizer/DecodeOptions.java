package dev.arica.runtime.tokenizer;

/**
 * How ids become text, as transformers' {@code decode} takes them.
 *
 * @param skipSpecialTokens drop special tokens (BOS, EOS, [CLS], padding...) instead of writing them out
 * @param cleanUpSpaces remove the spaces before punctuation and contractions ({@code clean_up_tokenization_spaces})
 */
public record DecodeOptions(boolean skipSpecialTokens, boolean cleanUpSpaces) {

    /** What generation prints: special tokens dropped, spaces as decoded. */
    public static final DecodeOptions DEFAULT = new DecodeOptions(true, false);

    /** Special tokens as asked, spaces cleaned up when the tokenizer's configuration says so (transformers' default). */
    public static DecodeOptions of(Tokenizer tokenizer, boolean skipSpecialTokens) {
        return new DecodeOptions(skipSpecialTokens, tokenizer.cleanUpTokenizationSpaces());
    }
}
