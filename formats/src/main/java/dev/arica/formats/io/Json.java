package dev.arica.formats.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The project's one JSON configuration: strict on input (duplicate keys, trailing data), plain on output. */
public final class Json {
    /** Largest JSON side file (config.json, index) read into memory; real ones are kilobytes. */
    public static final long MAX_SIDE_FILE_BYTES = 64L << 20;

    public static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .disable(JsonParser.Feature.AUTO_CLOSE_SOURCE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();

    /** One object per line, as JSON Lines output needs it. */
    public static final com.fasterxml.jackson.databind.ObjectWriter ONE_LINE = MAPPER.writer()
            .without(SerializationFeature.INDENT_OUTPUT);

    private static final java.util.regex.Pattern DUPLICATE = java.util.regex.Pattern.compile("^Duplicate field '(.*)'");

    private Json() {}

    /** Parses bytes as JSON, turning parser errors into a one-line FormatException about {@code file}. */
    public static JsonNode parse(Path file, byte[] bytes, String what) throws FormatException {
        try {
            JsonNode node = MAPPER.readTree(bytes);
            if (node == null || node.isMissingNode()) {
                throw new FormatException(file, what + " is empty");
            }
            return node;
        } catch (JsonProcessingException e) {
            java.util.regex.Matcher dup = DUPLICATE.matcher(String.valueOf(e.getOriginalMessage()));
            if (dup.find()) {
                throw new FormatException(file, what + " names '" + dup.group(1) + "' twice");
            }
            throw new FormatException(file, what + " is not valid JSON: " + oneLine(e));
        } catch (IOException e) {
            throw new FormatException(file, what + " could not be parsed: " + e.getMessage());
        }
    }

    /** Reads a small JSON file that must hold an object. */
    public static ObjectNode readObjectFile(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_SIDE_FILE_BYTES) {
            throw new FormatException(file, "is " + size + " bytes, more than the " + MAX_SIDE_FILE_BYTES
                    + " bytes a JSON side file may have");
        }
        JsonNode node = parse(file, Files.readAllBytes(file), "content");
        if (!(node instanceof ObjectNode o)) {
            throw new FormatException(file, "is not a JSON object");
        }
        return o;
    }

    public static String oneLine(JsonProcessingException e) {
        String msg = e.getOriginalMessage() == null ? e.getClass().getSimpleName() : e.getOriginalMessage();
        msg = msg.replaceAll("\\s+", " ").trim();
        if (e.getLocation() != null && e.getLocation().getCharOffset() >= 0) {
            msg += " (at character " + e.getLocation().getCharOffset() + ")";
        }
        return msg;
    }
}
