package dev.arica.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.io.Json;
import java.nio.file.Path;

/** One line of a JSON Lines input (tokenize's and embed's --jsonl), parsed and checked; a bad line is refused naming it. */
final class JsonLines {
    /** What every line must hold. */
    enum Kind {
        STRING("a JSON string"),
        ARRAY("a JSON array of token ids");

        final String description;

        Kind(String description) {
            this.description = description;
        }

        boolean accepts(JsonNode node) {
            return this == STRING ? node.isTextual() : node.isArray();
        }
    }

    private JsonLines() {}

    /** Line {@code number} (from 1) of {@code file} as JSON of {@code kind}; anything else exits 2 naming file:line. */
    static JsonNode parse(Path file, int number, String line, Kind kind) {
        String where = file + ":" + number;
        JsonNode node;
        try {
            node = Json.MAPPER.readTree(line);
        } catch (JsonProcessingException e) {
            throw AricaException.badInput(where + ": not JSON (" + Json.oneLine(e) + ")");
        }
        if (node == null || node.isMissingNode() || !kind.accepts(node)) {
            throw AricaException.badInput(where + ": expected " + kind.description + " per line, not "
                    + (node == null || node.isMissingNode() ? "an empty line" : node.getNodeType()));
        }
        return node;
    }
}
