package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** Field access into a tokenizer.json whose every failure is a one-line error naming the file and the field. */
final class TokenizerJson {
    private final Path file;

    TokenizerJson(Path file) {
        this.file = file;
    }

    FormatException error(String where, String problem) {
        return new FormatException(file, where + " " + problem);
    }

    /** The node's {@code type}, required. */
    String type(JsonNode node, String where) throws FormatException {
        if (node == null || !node.isObject()) {
            throw error(where, "must be an object");
        }
        return text(node, "type", where);
    }

    String text(JsonNode parent, String field, String where) throws FormatException {
        JsonNode v = parent.get(field);
        if (v == null || !v.isTextual()) {
            throw error(where + "." + field, v == null ? "is missing" : "must be a string, not " + v.getNodeType());
        }
        return v.textValue();
    }

    /** A string field that may be absent or null. */
    String optionalText(JsonNode parent, String field, String where) throws FormatException {
        JsonNode v = parent.get(field);
        return v == null || v.isNull() ? null : text(parent, field, where);
    }

    boolean bool(JsonNode parent, String field, boolean absent, String where) throws FormatException {
        JsonNode v = parent.get(field);
        if (v == null || v.isNull()) {
            return absent;
        }
        if (!v.isBoolean()) {
            throw error(where + "." + field, "must be true or false, not " + v);
        }
        return v.booleanValue();
    }

    int nonNegativeInt(JsonNode v, String where) throws FormatException {
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt() || v.intValue() < 0) {
            throw error(where, v == null ? "is missing" : "must be a non-negative integer, not " + v);
        }
        return v.intValue();
    }

    /** A finite number. */
    double number(JsonNode v, String where) throws FormatException {
        if (v == null || !v.isNumber() || !Double.isFinite(v.doubleValue())) {
            throw error(where, v == null ? "is missing" : "must be a finite number, not " + v);
        }
        return v.doubleValue();
    }

    /** An optional non-negative integer field, {@code absent} when missing or null. */
    int optionalInt(JsonNode parent, String field, int absent, String where) throws FormatException {
        JsonNode v = parent.get(field);
        return v == null || v.isNull() ? absent : nonNegativeInt(v, where + "." + field);
    }

    /** The {@code "token": id} object {@code parent.field}, every id used once, in file order. */
    Map<String, Integer> vocabObject(JsonNode parent, String field, String where) throws FormatException {
        JsonNode node = parent.get(field);
        String at = where + "." + field;
        if (node == null || !node.isObject()) {
            throw error(at, node == null ? "is missing" : "must be an object of token: id");
        }
        Map<String, Integer> vocab = new LinkedHashMap<>(2 * node.size());
        Map<Integer, String> byId = new HashMap<>(2 * node.size());
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            int id = nonNegativeInt(e.getValue(), at + "['" + e.getKey() + "']");
            String other = byId.putIfAbsent(id, e.getKey());
            if (other != null) {
                throw error(at, "gives id " + id + " to both '" + other + "' and '" + e.getKey() + "'");
            }
            vocab.put(e.getKey(), id);
        }
        return vocab;
    }

    /** The id of the token named by the string field {@code parent.field} (required), looked up in {@code vocab}. */
    int tokenId(JsonNode parent, String field, Map<String, Integer> vocab, String where) throws FormatException {
        String token = text(parent, field, where);
        Integer id = vocab.get(token);
        if (id == null) {
            throw error(where + "." + field, "'" + token + "' is not in the vocabulary");
        }
        return id;
    }

    JsonNode array(JsonNode parent, String field, String where) throws FormatException {
        JsonNode v = parent.get(field);
        if (v == null || !v.isArray()) {
            throw error(where + "." + field, v == null ? "is missing" : "must be an array");
        }
        return v;
    }

    /** Parses one element of a tokenizer.json list. */
    interface Element<T> {
        T parse(JsonNode node, String where) throws FormatException;
    }

    /** Every element of the array {@code parent.field}, each parsed with its own position in errors. */
    <T> List<T> each(JsonNode parent, String field, String where, Element<T> element) throws FormatException {
        JsonNode list = array(parent, field, where);
        List<T> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            out.add(element.parse(list.get(i), where + "." + field + "[" + i + "]"));
        }
        return out;
    }

    /** A {@code {"String": s}} or {@code {"Regex": r}} pattern as a compiled regex. */
    Pattern pattern(JsonNode parent, String where) throws FormatException {
        JsonNode p = parent.get("pattern");
        if (p != null && p.isObject() && p.size() == 1 && p.has("String") && p.get("String").isTextual()) {
            return Pattern.compile(Pattern.quote(p.get("String").textValue()));
        }
        if (p != null && p.isObject() && p.size() == 1 && p.has("Regex") && p.get("Regex").isTextual()) {
            try {
                // Oniguruma, which tokenizers uses, matches \s and friends over all of Unicode.
                return Pattern.compile(p.get("Regex").textValue(), Pattern.UNICODE_CHARACTER_CLASS);
            } catch (PatternSyntaxException e) {
                throw error(where + ".pattern", "is not a usable regex: " + e.getDescription());
            }
        }
        throw error(where + ".pattern", "must be {\"String\": ...} or {\"Regex\": ...}");
    }
}
