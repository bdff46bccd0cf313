package dev.arica.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.io.Json;
import java.io.UncheckedIOException;
import java.util.List;

/**
 * What {@code arica tokenize} prints, kept apart from the command: an encoding as ids and tokens, a decoded
 * text; plain lines or one compact JSON object per line (which a pipeline reads line by line).
 */
final class TokenizeOutput {

    private TokenizeOutput() {}

    /**
     * {@code {"ids": [...], "tokens": [...]}} (and {@code "type_ids"} for a pair), or the lines
     * {@code ids: 1,2,3} (what --decode reads), {@code tokens: "a" "b"} (each a JSON string) and {@code type_ids: ...}.
     */
    static String encoding(int[] ids, List<String> tokens, int[] typeIds, boolean json) {
        if (json) {
            ObjectNode o = Json.MAPPER.createObjectNode();
            TokenIds.add(o.putArray("ids"), ids);
            ArrayNode t = o.putArray("tokens");
            tokens.forEach(t::add);
            if (typeIds != null) {
                TokenIds.add(o.putArray("type_ids"), typeIds);
            }
            return write(o);
        }
        StringBuilder b = new StringBuilder("ids: ").append(TokenIds.format(ids)).append("\ntokens:");
        for (String token : tokens) {
            b.append(' ').append(write(Json.MAPPER.getNodeFactory().textNode(token)));
        }
        if (typeIds != null) {
            b.append("\ntype_ids: ").append(TokenIds.format(typeIds));
        }
        return b.toString();
    }

    /** {@code {"text": ...}}, or the text as it is. */
    static String text(String text, boolean json) {
        if (!json) {
            return text;
        }
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("text", text);
        return write(o);
    }

    private static String write(Object node) {
        try {
            return Json.ONE_LINE.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
