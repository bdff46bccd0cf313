package dev.arica.runtime.tokenizer;

import java.text.Normalizer;
import java.util.Locale;

/**
 * Character classes as the reference tokenizers define them, which differ from Java's own: Rust's
 * {@code char::is_whitespace} (Unicode White_Space) and Python's {@code str.isspace()} are neither
 * {@link Character#isWhitespace} (which leaves out no-break spaces) nor each other.
 */
final class UnicodeChars {
    private UnicodeChars() {}

    /** Unicode White_Space, Rust's {@code char::is_whitespace} and Java regex {@code \s} with UNICODE_CHARACTER_CLASS. */
    static boolean whiteSpace(int c) {
        return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A)
                || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
    }

    /** Python's {@code str.isspace()}: White_Space plus the information separators U+001C..U+001F. */
    static boolean pythonSpace(int c) {
        return whiteSpace(c) || (c >= 0x1C && c <= 0x1F);
    }

    /** Unicode punctuation (P*), or ASCII punctuation (which also counts $+<=>^`|~): BERT's punctuation. */
    static boolean bertPunctuation(int c) {
        if (c < 0x80) {
            return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x40) || (c >= 0x5B && c <= 0x60) || (c >= 0x7B && c <= 0x7E);
        }
        return switch (Character.getType(c)) {
            case Character.CONNECTOR_PUNCTUATION, Character.DASH_PUNCTUATION, Character.START_PUNCTUATION,
                    Character.END_PUNCTUATION, Character.INITIAL_QUOTE_PUNCTUATION, Character.FINAL_QUOTE_PUNCTUATION,
                    Character.OTHER_PUNCTUATION -> true;
            default -> false;
        };
    }

    /** Unicode category C* but tab, newline and carriage return: what BERT's clean-up removes. */
    static boolean control(int c) {
        if (c == '\t' || c == '\n' || c == '\r') {
            return false;
        }
        return switch (Character.getType(c)) {
            case Character.CONTROL, Character.FORMAT, Character.UNASSIGNED, Character.PRIVATE_USE, Character.SURROGATE -> true;
            default -> false;
        };
    }

    /** A numeric character (Unicode N*), Rust's {@code char::is_numeric}. */
    static boolean numeric(int c) {
        return switch (Character.getType(c)) {
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> true;
            default -> false;
        };
    }

    /** The CJK ideograph blocks that BERT surrounds with spaces, as tokenizers lists them. */
    static boolean chinese(int c) {
        return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF)
                || (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF)
                || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
    }

    /**
     * Full lowercase mapping one character at a time, as Rust's {@code char::to_lowercase} (İ becomes i +
     * U+0307); unlike {@link String#toLowerCase}, a final Σ stays σ, since no context is looked at.
     */
    static String lowercaseEach(String s) {
        StringBuilder b = new StringBuilder(s.length());
        s.codePoints().forEach(c -> {
            if (c < 0x80) {
                b.append((char) (c >= 'A' && c <= 'Z' ? c + 32 : c));
            } else {
                b.append(Character.toString(c).toLowerCase(Locale.ROOT));
            }
        });
        return b.toString();
    }

    /** NFD with the nonspacing marks (Mn) removed: accents off. */
    static String stripAccents(String s) {
        StringBuilder b = new StringBuilder(s.length());
        Normalizer.normalize(s, Normalizer.Form.NFD).codePoints()
                .filter(c -> Character.getType(c) != Character.NON_SPACING_MARK)
                .forEach(b::appendCodePoint);
        return b.toString();
    }
}
