package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.text.Normalizer;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The tokenizer.json normalizers arica supports, applied to each stretch of text between added tokens. */
sealed interface HfNormalizer {

    String apply(String s);

    record Sequence(List<HfNormalizer> steps) implements HfNormalizer {
        @Override
        public String apply(String s) {
            for (HfNormalizer n : steps) {
                s = n.apply(s);
            }
            return s;
        }
    }

    /** Sentencepiece's dummy prefix; empty text stays empty. */
    record Prepend(String prefix) implements HfNormalizer {
        @Override
        public String apply(String s) {
            return s.isEmpty() ? s : prefix + s;
        }
    }

    record Replace(Pattern pattern, String content) implements HfNormalizer {
        @Override
        public String apply(String s) {
            return pattern.matcher(s).replaceAll(Matcher.quoteReplacement(content));
        }
    }

    record Unicode(Normalizer.Form form) implements HfNormalizer {
        @Override
        public String apply(String s) {
            return Normalizer.normalize(s, form);
        }
    }

    /** Character by character, as tokenizers lowercases (no final-sigma rule). */
    record Lowercase() implements HfNormalizer {
        @Override
        public String apply(String s) {
            return UnicodeChars.lowercaseEach(s);
        }
    }

    record StripAccents() implements HfNormalizer {
        @Override
        public String apply(String s) {
            return UnicodeChars.stripAccents(s);
        }
    }

    /**
     * BERT's normalizer: control characters out and whitespace to spaces ({@code clean_text}), spaces around CJK
     * ideographs, then accents stripped (by default when lowercasing) and lowercase.
     */
    record Bert(boolean cleanText, boolean chineseChars, boolean stripAccents, boolean lowercase) implements HfNormalizer {
        @Override
        public String apply(String s) {
            if (cleanText || chineseChars) {
                StringBuilder b = new StringBuilder(s.length());
                s.codePoints().forEach(c -> {
                    if (cleanText && (c == 0 || c == 0xFFFD || UnicodeChars.control(c))) {
                        return;
                    }
                    if (cleanText && UnicodeChars.whiteSpace(c)) {
                        b.append(' ');
                    } else if (chineseChars && UnicodeChars.chinese(c)) {
                        b.append(' ').appendCodePoint(c).append(' ');
                    } else {
                        b.appendCodePoint(c);
                    }
                });
                s = b.toString();
            }
            if (stripAccents) {
                s = UnicodeChars.stripAccents(s);
            }
            return lowercase ? UnicodeChars.lowercaseEach(s) : s;
        }
    }

    record Strip(boolean left, boolean right) implements HfNormalizer {
        @Override
        public String apply(String s) {
            int from = 0, to = s.length();
            while (left && from < to && UnicodeChars.whiteSpace(s.codePointAt(from))) {
                from += Character.charCount(s.codePointAt(from));
            }
            while (right && to > from && UnicodeChars.whiteSpace(s.codePointBefore(to))) {
                to -= Character.charCount(s.codePointBefore(to));
            }
            return s.substring(from, to);
        }
    }

    String SUPPORTED = "Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip, StripAccents, BertNormalizer";

    /** Identity, for {@code "normalizer": null}. */
    HfNormalizer NONE = new Sequence(List.of());

    static HfNormalizer parse(JsonNode node, TokenizerJson json, String where) throws FormatException {
        if (node == null || node.isNull()) {
            return NONE;
        }
        String type = json.type(node, where);
        return switch (type) {
            case "Sequence" -> new Sequence(List.copyOf(json.each(node, "normalizers", where, (n, w) -> parse(n, json, w))));
            case "Prepend" -> new Prepend(json.text(node, "prepend", where));
            case "Replace" -> new Replace(json.pattern(node, where), json.text(node, "content", where));
            case "NFC" -> new Unicode(Normalizer.Form.NFC);
            case "NFD" -> new Unicode(Normalizer.Form.NFD);
            case "NFKC" -> new Unicode(Normalizer.Form.NFKC);
            case "NFKD" -> new Unicode(Normalizer.Form.NFKD);
            case "Lowercase" -> new Lowercase();
            case "Strip" -> new Strip(json.bool(node, "strip_left", true, where), json.bool(node, "strip_right", true, where));
            case "StripAccents" -> new StripAccents();
            case "BertNormalizer" -> {
                boolean lowercase = json.bool(node, "lowercase", true, where);
                // strip_accents null means: strip when lowercasing.
                yield new Bert(json.bool(node, "clean_text", true, where), json.bool(node, "handle_chinese_chars", true, where),
                        json.bool(node, "strip_accents", lowercase, where), lowercase);
            }
            default -> throw json.error(where, "type '" + type + "' is not supported (supported: " + SUPPORTED + ")");
        };
    }
}
