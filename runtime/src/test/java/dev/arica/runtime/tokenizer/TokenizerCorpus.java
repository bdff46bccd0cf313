package dev.arica.runtime.tokenizer;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Texts to compare tokenizers on: hand-picked ones that exercise the rules (case, accents, CJK, emoji,
 * control and space characters, long words, contractions, punctuation, special tokens typed in the
 * text), then seeded random mixtures of such fragments.
 */
final class TokenizerCorpus {
    private TokenizerCorpus() {}

    static final List<String> HAND = List.of(
            "", " ", "hello", "Hello, World!", "hello world", "  hello   world  ", "HELLO WORLD", "hello\tworld\nnew\r\nline",
            "The quick brown fox jumps over the lazy dog.", "unbelievable", "unaffable", "tokenization", "It's",
            "don't stop!", "I'm here, you're there; they've gone.", "rock'n'roll isn't 80's", "3.14 is not 3,14",
            "1,000,000 or 007", "the 2nd of May", "Café naïve façade résumé", "Ünïcödé ÀÉÎÕÜ", "İstanbul ΟΔΟΣ Straße",
            "ﬁnance ＡＢＣ ① ½", "日本語のテキスト", "中文字符和English混合", "한국어 텍스트", "emoji 👍 here 🇫🇷 👨‍👩‍👧",
            "red\u00a0ball\u2003is\u3000blue", "zero\u200bwidth\u200djoiner", "control\u0001char\u007fs\u0085x",
            "tab\t\ttabs", "new\n\nlines\n", "a" + "b".repeat(120), "Pneumonoultramicroscopicsilicovolcanoconiosis",
            "supercalifragilisticexpialidocious!", "e-mail & co/op @ 100% $5 #1 *bold* +plus =eq [x] {y} <z> ~w ^v |u",
            "wait... what?!", "(big) [small] {odd}", "she said \"yes\" ; he said: no", "¿Qué? ¡Sí!", "«quotes» „low“",
            "hello<|endoftext|>world", "<s>hello</s>", "[CLS] hello [SEP]", "[MASK] is [UNK]", "</s></s>", "<pad>x<unk>",
            "hello <s> world", "x</s>y", "newyork new york", "The new york times", "itisthe", "theunbelievable",
            "日本", "日本語", "語本日", "the café", "ü", "z", "Q", "x\u0301", "\uFFFD", "a\u0000b", "a \u2028 b \u2029 c",
            "😀😀😀", "ab", "abc", "bca", "hello hello hello", "   ", "\n", "..", "?!", "'s", "'", "''", "do not");

    /** Pieces the random texts are made of. */
    private static final List<String> FRAGMENTS = List.of(
            "hello", "world", "the", "The", "a", "is", "it", "un", "believ", "able", "new", "york", "tok", "en", "iz",
            "ation", "ing", "ed", "ly", "café", "naïve", "Ü", "é", "日本", "語", "中", "文", "한", "👍", "😀", "ﬁ", "Σ", "ς",
            "42", "3.14", "007", ",", ".", "!", "?", "'", "'s", "n't", "-", "&", "(", ")", "\"", " ", " ", " ", "  ", "\t", "\n",
            "\u00a0", "\u3000", "<s>", "</s>", "[CLS]", "[SEP]", "[UNK]", "<|endoftext|>", "<unk>", "<pad>", "abc", "bc", "ab",
            "HELLO", "World", "x", "q", "z");

    /** The hand-picked texts, then {@code randomCount} random ones from a fixed seed. */
    static List<String> texts(int randomCount) {
        List<String> out = new ArrayList<>(HAND);
        Random r = new Random(20240614L);
        for (int i = 0; i < randomCount; i++) {
            StringBuilder b = new StringBuilder();
            int n = 1 + r.nextInt(12);
            for (int k = 0; k < n; k++) {
                b.append(FRAGMENTS.get(r.nextInt(FRAGMENTS.size())));
            }
            out.add(b.toString());
        }
        return out;
    }
}
