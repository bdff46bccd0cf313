package dev.arica.formats.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.FormatException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Typed reading of a JSON configuration (config.json, generation_config.json, arica-genai.json): each getter checks
 * the value and fails with one line naming the file and the key. The one config reader of arica; families read their
 * hyper-parameters through it, and a key may have aliases (GPT-2's {@code n_embd} for {@code hidden_size}).
 */
public final class ConfigFields {

    /** Most layers a configuration may declare: ten times the deepest published models, far below what exhausts a heap. */
    public static final int MAX_LAYERS = 4096;

    private final Path file;
    private final ObjectNode root;
    /** "inputs." for a nested object's fields: how messages name them. */
    private final String prefix;

    public ConfigFields(Path file, ObjectNode root) {
        this(file, root, "");
    }

    /** The fields of {@code root}, an object nested somewhere in the file, named "{@code prefix}field" in messages. */
    public ConfigFields(Path file, ObjectNode root, String prefix) {
        this.file = file;
        this.root = root;
        this.prefix = prefix;
    }

    /** The fields of the object under {@code key} (an empty one when absent), named "key.field" in messages. */
    public ConfigFields object(String key) throws FormatException {
        JsonNode n = first(key);
        if (n == null) {
            return new ConfigFields(file, root.objectNode(), prefix + key + ".");
        }
        if (!(n instanceof ObjectNode o)) {
            throw new FormatException(file, prefix + key + " is " + n + ", not an object");
        }
        return new ConfigFields(file, o, prefix + key + ".");
    }

    /** A token id below {@code vocab}, or {@code dflt} when absent or null. */
    public int tokenIdOr(int dflt, String key, int vocab) throws FormatException {
        int id = nonNegativeOr(-1, key);
        if (id < 0) {
            return dflt;
        }
        if (id >= vocab) {
            throw new FormatException(file, prefix + key + " " + id + " is not below vocab_size " + vocab);
        }
        return id;
    }

    /**
     * A non-empty string; {@code dflt} when the key is absent; null when it is JSON null and {@code nullable}
     * (absent from the config: e.g. a model without that input).
     */
    public String name(String key, String dflt, boolean nullable) throws FormatException {
        JsonNode n = root.get(key);
        if (n == null) {
            if (dflt == null && !nullable) {
                throw new FormatException(file, prefix + key + " is missing");
            }
            return dflt;
        }
        if (n.isNull() && nullable) {
            return null;
        }
        if (!n.isTextual() || n.textValue().isEmpty()) {
            throw new FormatException(file, prefix + key + " is " + n + ", not a non-empty string");
        }
        return n.textValue();
    }

    public Path file() {
        return file;
    }

    public ObjectNode json() {
        return root;
    }

    /** Whether any of the keys is present and not null. */
    public boolean has(String... keys) {
        return first(keys) != null;
    }

    /** A positive int from the first key present; missing is an error. */
    public int positive(String... keys) throws FormatException {
        JsonNode n = first(keys);
        if (n == null) {
            throw new FormatException(file, prefix + keys[0] + " is missing");
        }
        return positive(keys[0], n);
    }

    /**
     * A layer count from the first key present: positive and at most {@link #MAX_LAYERS}, so that the per-layer tables
     * built from it stay small whatever a file claims (2e9 layers ran out of memory).
     */
    public int layers(String... keys) throws FormatException {
        int n = positive(keys);
        if (n > MAX_LAYERS) {
            throw new FormatException(file, prefix + keys[0] + " is " + n + ", more than the " + MAX_LAYERS
                    + " layers arica accepts");
        }
        return n;
    }

    /** A positive int from the first key present, or {@code dflt} when none is. */
    public int positiveOr(int dflt, String... keys) throws FormatException {
        JsonNode n = first(keys);
        return n == null ? dflt : positive(keys[0], n);
    }

    private int positive(String key, JsonNode n) throws FormatException {
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() <= 0) {
            throw new FormatException(file, prefix + key + " is " + n + ", not a positive integer");
        }
        return n.intValue();
    }

    /** A non-negative int, or {@code dflt} when absent or null. */
    public int nonNegativeOr(int dflt, String... keys) throws FormatException {
        JsonNode n = first(keys);
        if (n == null) {
            return dflt;
        }
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() < 0) {
            throw new FormatException(file, prefix + keys[0] + " is " + n + ", not a non-negative integer");
        }
        return n.intValue();
    }

    /** A positive finite number, or {@code dflt} when absent. */
    public double positiveNumberOr(double dflt, String... keys) throws FormatException {
        JsonNode n = first(keys);
        if (n == null) {
            return dflt;
        }
        if (!n.isNumber() || !(n.doubleValue() > 0) || Double.isInfinite(n.doubleValue())) {
            throw new FormatException(file, prefix + keys[0] + " is " + n + ", not a positive number");
        }
        return n.doubleValue();
    }

    /** A boolean, or {@code dflt} when absent; anything but true/false is an error. */
    public boolean bool(String key, boolean dflt) throws FormatException {
        JsonNode n = first(key);
        if (n == null) {
            return dflt;
        }
        if (!n.isBoolean()) {
            throw new FormatException(file, prefix + key + " is " + n + ", not true or false");
        }
        return n.booleanValue();
    }

    /** A string, or {@code dflt} when absent. */
    public String text(String key, String dflt) throws FormatException {
        JsonNode n = first(key);
        if (n == null) {
            return dflt;
        }
        if (!n.isTextual()) {
            throw new FormatException(file, prefix + key + " is " + n + ", not a string");
        }
        return n.textValue();
    }

    /** A list of strings (a JSON array of strings), empty when absent. */
    public List<String> strings(String key) throws FormatException {
        JsonNode n = first(key);
        List<String> out = new ArrayList<>();
        if (n == null) {
            return out;
        }
        if (!n.isArray()) {
            throw new FormatException(file, key + " is " + n + ", not an array of strings");
        }
        for (JsonNode x : n) {
            if (!x.isTextual()) {
                throw new FormatException(file, key + " holds " + x + ", not a string");
            }
            out.add(x.textValue());
        }
        return out;
    }

    /** Token ids: one id or an array of them; empty when absent or null. */
    public List<Integer> tokenIds(String key) throws FormatException {
        JsonNode n = first(key);
        List<Integer> out = new ArrayList<>();
        if (n == null) {
            return out;
        }
        for (JsonNode x : n.isArray() ? n : List.of(n)) {
            if (!x.isIntegralNumber() || !x.canConvertToInt() || x.intValue() < 0) {
                throw new FormatException(file, "token id " + x + " is not a non-negative integer");
            }
            out.add(x.intValue());
        }
        return out;
    }

    /** How messages name {@code key} of this object: "inputs.past_key" for a nested one. */
    public String nameOf(String key) {
        return prefix + key;
    }

    /** A FormatException about this file. */
    public FormatException error(String problem) {
        return new FormatException(file, problem);
    }

    private JsonNode first(String... keys) {
        for (String k : keys) {
            JsonNode n = root.get(k);
            if (n != null && !n.isNull()) {
                return n;
            }
        }
        return null;
    }
}
