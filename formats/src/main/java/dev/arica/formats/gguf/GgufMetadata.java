package dev.arica.formats.gguf;

import dev.arica.formats.FormatException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalLong;

/**
 * A GGUF file's metadata in file order, with typed getters whose every failure (a missing key, a value of another
 * type, a number out of range) is one line naming the file and the key.
 */
public final class GgufMetadata {
    private final Path file;
    private final Map<String, GgufValue> values;

    GgufMetadata(Path file, LinkedHashMap<String, GgufValue> values) {
        this.file = file;
        this.values = Collections.unmodifiableMap(values);
    }

    /** Every key and value, in file order. */
    public Map<String, GgufValue> values() {
        return values;
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    public Optional<GgufValue> get(String key) {
        return Optional.ofNullable(values.get(key));
    }

    private FormatException error(String key, String problem) {
        return new FormatException(file, "metadata '" + key + "' " + problem);
    }

    private GgufValue required(String key) throws FormatException {
        GgufValue v = values.get(key);
        if (v == null) {
            throw error(key, "is missing");
        }
        return v;
    }

    /** A string value, empty when absent. */
    public Optional<String> string(String key) throws FormatException {
        GgufValue v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (v.type() != GgufValueType.STRING) {
            throw error(key, "is a " + v.describe() + ", expected a string");
        }
        return Optional.of(v.asString());
    }

    /** An integer value of any integer type, empty when absent; uint64 above 2^63 - 1 is refused. */
    public OptionalLong integer(String key) throws FormatException {
        GgufValue v = values.get(key);
        if (v == null) {
            return OptionalLong.empty();
        }
        if (!v.type().isInteger()) {
            throw error(key, "is a " + v.describe() + ", expected an integer");
        }
        if (v.asLong() < 0 && v.type() == GgufValueType.UINT64) {
            throw error(key, "is " + Long.toUnsignedString(v.asLong()) + ", out of range");
        }
        return OptionalLong.of(v.asLong());
    }

    /** A required integer from {@code min} to {@code max}. */
    public int requiredInt(String key, int min, int max) throws FormatException {
        required(key);
        return intOr(key, min, max, 0);
    }

    /** An integer from {@code min} to {@code max}, {@code absent} when missing. */
    public int intOr(String key, int min, int max, int absent) throws FormatException {
        OptionalLong v = integer(key);
        if (v.isEmpty()) {
            return absent;
        }
        if (v.getAsLong() < min || v.getAsLong() > max) {
            throw error(key, "is " + v.getAsLong() + ", expected " + min + " to " + max);
        }
        return (int) v.getAsLong();
    }

    /** A finite number (a float, or an integer), empty when absent. */
    public OptionalDouble number(String key) throws FormatException {
        GgufValue v = values.get(key);
        if (v == null) {
            return OptionalDouble.empty();
        }
        double d;
        if (v.type().isFloat()) {
            d = v.asDouble();
        } else if (v.type().isInteger()) {
            d = v.asLong();
        } else {
            throw error(key, "is a " + v.describe() + ", expected a number");
        }
        if (!Double.isFinite(d)) {
            throw error(key, "is " + d + ", expected a finite number");
        }
        return OptionalDouble.of(d);
    }

    /** A boolean, {@code absent} when missing. */
    public boolean bool(String key, boolean absent) throws FormatException {
        GgufValue v = values.get(key);
        if (v == null) {
            return absent;
        }
        if (v.type() != GgufValueType.BOOL) {
            throw error(key, "is a " + v.describe() + ", expected a boolean");
        }
        return v.asBoolean();
    }

    /** An array of {@code element} values (or of any integer type when {@code element} is an integer type), empty when absent. */
    public Optional<GgufValue> array(String key, GgufValueType element) throws FormatException {
        GgufValue v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        boolean ok = v.isArray() && (v.elementType() == element || element.isInteger() && v.elementType().isInteger()
                || element.isFloat() && v.elementType().isFloat());
        if (!ok) {
            throw error(key, "is a " + v.describe() + ", expected an array of " + element.displayName());
        }
        return Optional.of(v);
    }
}
