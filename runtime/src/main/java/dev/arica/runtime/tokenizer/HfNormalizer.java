package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.text.Normalizer;
import java.util.List;
import java.util.Locale;
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

    record Lowercase() implements HfNormalizer {
        @Override
        public String apply(String s) {
            return s.toLowerCase(Locale.ROOT);
        }
    }

    record Strip(boolean left, boolean right) implements HfNormalizer {
        @Override
        public String apply(String s) {
            String out = left ? s.stripLeading() : s;
            return right ? out.stripTrailing() : out;
        }
    }

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
            default -> throw json.error(where, "type '" + type + "' is not supported (supported: Sequence, Prepend, "
                    + "Replace, NFC, NFD, NFKC, NFKD, Lowercase, Strip)");
        };
    }
}
