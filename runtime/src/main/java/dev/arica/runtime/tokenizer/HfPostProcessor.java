package dev.arica.runtime.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.FormatException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A tokenizer.json {@code post_processor}: the special tokens around one sequence or a pair, and the type
 * ids of a pair. Without special tokens the sequences are joined as they are (type ids from the template).
 */
sealed interface HfPostProcessor {

    String SUPPORTED = "TemplateProcessing, BertProcessing, RobertaProcessing, ByteLevel, Sequence";

    /** {@code a} followed by {@code b} (null for a single sequence), with special tokens when asked. */
    Encoding process(int[] a, int[] b, boolean addSpecialTokens);

    /** The id of the special token put first around a single sequence, or -1. */
    int leadingSpecial();

    /** One item of a template: a special token's ids, or sequence A or B. */
    record Piece(boolean sequenceA, boolean sequenceB, int[] special, int typeId) {}

    /** Items in order; with {@code pair} the sequences of a pair (typically A, then B with type id 1). */
    record Template(List<Piece> single, List<Piece> pair) implements HfPostProcessor {
        @Override
        public Encoding process(int[] a, int[] b, boolean addSpecialTokens) {
            Encoding.Builder out = new Encoding.Builder();
            for (Piece p : b == null ? single : pair) {
                if (p.sequenceA) {
                    out.add(a, p.typeId);
                } else if (p.sequenceB) {
                    out.add(b, p.typeId);
                } else if (addSpecialTokens) {
                    out.add(p.special, p.typeId);
                }
            }
            return out.build();
        }

        @Override
        public int leadingSpecial() {
            return single.isEmpty() || single.getFirst().special == null || single.getFirst().special.length == 0
                    ? -1 : single.getFirst().special[0];
        }
    }

    /** Joins the sequences, B with type id 1: what tokenizers does without a post-processor. */
    HfPostProcessor NONE = new Template(List.of(new Piece(true, false, null, 0)),
            List.of(new Piece(true, false, null, 0), new Piece(false, true, null, 1)));

    /** Each processor's result is the next one's sequence A: only the first with an effect matters in practice. */
    record Sequence(List<HfPostProcessor> steps) implements HfPostProcessor {
        @Override
        public Encoding process(int[] a, int[] b, boolean addSpecialTokens) {
            HfPostProcessor effective = steps.stream().filter(p -> p != NONE).findFirst().orElse(NONE);
            return effective.process(a, b, addSpecialTokens);
        }

        @Override
        public int leadingSpecial() {
            return steps.stream().mapToInt(HfPostProcessor::leadingSpecial).filter(id -> id >= 0).findFirst().orElse(-1);
        }
    }

    static HfPostProcessor parse(JsonNode node, Map<String, Integer> vocab, TokenizerJson json, String where)
            throws FormatException {
        if (node == null || node.isNull()) {
            return NONE;
        }
        String type = json.type(node, where);
        return switch (type) {
            case "TemplateProcessing" -> template(node, vocab, json, where);
            // [CLS] A [SEP] and [CLS] A [SEP] B [SEP], B's part with type id 1.
            case "BertProcessing" -> {
                int[] cls = {pairId(node, "cls", json, where)}, sep = {pairId(node, "sep", json, where)};
                yield new Template(List.of(special(cls, 0), sequence(true, 0), special(sep, 0)),
                        List.of(special(cls, 0), sequence(true, 0), special(sep, 0), sequence(false, 1), special(sep, 1)));
            }
            // <s> A </s> and <s> A </s> </s> B </s>; RoBERTa has no type ids: all 0.
            case "RobertaProcessing" -> {
                int[] cls = {pairId(node, "cls", json, where)}, sep = {pairId(node, "sep", json, where)};
                yield new Template(List.of(special(cls, 0), sequence(true, 0), special(sep, 0)),
                        List.of(special(cls, 0), sequence(true, 0), special(sep, 0), special(sep, 0), sequence(false, 0),
                                special(sep, 0)));
            }
            case "ByteLevel" -> NONE;
            case "Sequence" -> new Sequence(List.copyOf(json.each(node, "processors", where, (n, w) -> parse(n, vocab, json, w))));
            default -> throw json.error(where, "type '" + type + "' is not supported (supported: " + SUPPORTED + ")");
        };
    }

    private static Piece special(int[] ids, int typeId) {
        return new Piece(false, false, ids, typeId);
    }

    private static Piece sequence(boolean a, int typeId) {
        return new Piece(a, !a, null, typeId);
    }

    /** The id of a {@code [token, id]} field. */
    private static int pairId(JsonNode node, String field, TokenizerJson json, String where) throws FormatException {
        JsonNode v = node.get(field);
        if (v == null || !v.isArray() || v.size() != 2 || !v.get(0).isTextual()) {
            throw json.error(where + "." + field, "must be [token, id]");
        }
        return json.nonNegativeInt(v.get(1), where + "." + field + "[1]");
    }

    private static Template template(JsonNode node, Map<String, Integer> vocab, TokenizerJson json, String where)
            throws FormatException {
        JsonNode specials = node.get("special_tokens");
        List<List<Piece>> both = new ArrayList<>();
        for (String field : List.of("single", "pair")) {
            if (field.equals("pair") && !node.has("pair")) {
                // No pair template: the single one, then B with type id 1.
                List<Piece> pair = new ArrayList<>(both.getFirst());
                pair.add(sequence(false, 1));
                both.add(pair);
                continue;
            }
            both.add(json.each(node, field, where, (item, w) -> {
                if (item.isObject() && item.size() == 1 && item.has("Sequence")) {
                    String id = json.text(item.get("Sequence"), "id", w + ".Sequence");
                    if (!id.equals("A") && !id.equals("B")) {
                        throw json.error(w + ".Sequence.id", "must be A or B, not '" + id + "'");
                    }
                    return sequence(id.equals("A"), typeId(item.get("Sequence"), json, w + ".Sequence"));
                }
                if (item.isObject() && item.size() == 1 && item.has("SpecialToken")) {
                    JsonNode t = item.get("SpecialToken");
                    String name = json.text(t, "id", w + ".SpecialToken");
                    return special(specialIds(name, specials, vocab, json, where, w), typeId(t, json, w + ".SpecialToken"));
                }
                throw json.error(w, "must be {\"Sequence\": ...} or {\"SpecialToken\": ...}");
            }));
        }
        return new Template(List.copyOf(both.get(0)), List.copyOf(both.get(1)));
    }

    private static int typeId(JsonNode node, TokenizerJson json, String where) throws FormatException {
        return json.optionalInt(node, "type_id", 0, where);
    }

    /** The ids a template's special token stands for: from {@code special_tokens}, else the vocabulary entry. */
    private static int[] specialIds(String name, JsonNode specials, Map<String, Integer> vocab, TokenizerJson json,
            String where, String usedAt) throws FormatException {
        JsonNode s = specials == null ? null : specials.get(name);
        if (s != null && s.has("ids")) {
            JsonNode ids = json.array(s, "ids", where + ".special_tokens['" + name + "']");
            int[] out = new int[ids.size()];
            for (int i = 0; i < out.length; i++) {
                out[i] = json.nonNegativeInt(ids.get(i), where + ".special_tokens['" + name + "'].ids[" + i + "]");
            }
            return out;
        }
        Integer id = vocab.get(name);
        if (id == null) {
            throw json.error(usedAt, "names '" + name + "', which is not a known token");
        }
        return new int[] {id};
    }
}
