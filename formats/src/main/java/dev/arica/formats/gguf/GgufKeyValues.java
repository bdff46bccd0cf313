package dev.arica.formats.gguf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The metadata of a GGUF file to write: typed key/values in the order they were put, encoded as gguf.md lays them
 * out (key string, uint32 value type, value; arrays as element type, uint64 count, elements). Putting a key again
 * replaces its value in place. Strings are raw bytes: GGUF expects UTF-8, which callers give.
 */
public final class GgufKeyValues {

    /** One value: its type, the element type of an array, and the Java value (arrays as lists or primitive arrays). */
    private record Value(GgufValueType type, GgufValueType element, Object value) {}

    private final Map<String, Value> entries = new LinkedHashMap<>();

    public GgufKeyValues putString(String key, String value) {
        return put(key, new Value(GgufValueType.STRING, null, utf8(value)));
    }

    public GgufKeyValues putUint32(String key, long value) {
        if (value < 0 || value > 0xffff_ffffL) {
            throw new IllegalArgumentException(key + ": " + value + " does not fit a uint32");
        }
        return put(key, new Value(GgufValueType.UINT32, null, value));
    }

    public GgufKeyValues putFloat32(String key, float value) {
        return put(key, new Value(GgufValueType.FLOAT32, null, value));
    }

    public GgufKeyValues putBool(String key, boolean value) {
        return put(key, new Value(GgufValueType.BOOL, null, value));
    }

    /** An array of strings, each given as its UTF-8 bytes (vocabulary pieces need not be valid text). */
    public GgufKeyValues putStringArray(String key, List<byte[]> values) {
        return put(key, new Value(GgufValueType.ARRAY, GgufValueType.STRING, List.copyOf(values)));
    }

    public GgufKeyValues putFloat32Array(String key, float[] values) {
        return put(key, new Value(GgufValueType.ARRAY, GgufValueType.FLOAT32, values.clone()));
    }

    public GgufKeyValues putInt32Array(String key, int[] values) {
        return put(key, new Value(GgufValueType.ARRAY, GgufValueType.INT32, values.clone()));
    }

    /** Adds every entry of {@code other}, in its order, replacing keys already here. */
    public GgufKeyValues putAll(GgufKeyValues other) {
        entries.putAll(other.entries);
        return this;
    }

    private GgufKeyValues put(String key, Value v) {
        if (key.isEmpty()) {
            throw new IllegalArgumentException("a metadata key must not be empty");
        }
        entries.put(key, v);
        return this;
    }

    public int size() {
        return entries.size();
    }

    public List<String> keys() {
        return List.copyOf(entries.keySet());
    }

    public boolean has(String key) {
        return entries.containsKey(key);
    }

    /** The type of the value of {@code key}, empty when absent. */
    public Optional<GgufValueType> type(String key) {
        return Optional.ofNullable(entries.get(key)).map(Value::type);
    }

    /** The value of {@code key} when it is a string; empty when absent or of another type. */
    public Optional<String> text(String key) {
        Value v = entries.get(key);
        return v != null && v.type() == GgufValueType.STRING
                ? Optional.of(new String((byte[]) v.value(), StandardCharsets.UTF_8)) : Optional.empty();
    }

    /** The bytes of every entry, in order: the part of a GGUF file after its header's counts. */
    public byte[] encode() {
        List<byte[]> keys = new ArrayList<>(entries.size());
        long size = 0;
        for (Map.Entry<String, Value> e : entries.entrySet()) {
            byte[] k = utf8(e.getKey());
            keys.add(k);
            size += GgufValueType.STRING_HEADER_BYTES + k.length + 4 + valueBytes(e.getValue());
        }
        if (size > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("GGUF metadata of " + size + " bytes is more than arica writes");
        }
        ByteBuffer b = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
        int i = 0;
        for (Value v : entries.values()) {
            putBytes(b, keys.get(i++));
            b.putInt(v.type().id());
            putValue(b, v);
        }
        return b.array();
    }

    private static long valueBytes(Value v) {
        return switch (v.type()) {
            case STRING -> GgufValueType.STRING_HEADER_BYTES + ((byte[]) v.value()).length;
            case ARRAY -> {
                long n = GgufValueType.ARRAY_HEADER_BYTES;
                switch (v.value()) {
                    case List<?> strings -> {
                        for (Object s : strings) {
                            n += GgufValueType.STRING_HEADER_BYTES + ((byte[]) s).length;
                        }
                    }
                    case float[] f -> n += 4L * f.length;
                    case int[] a -> n += 4L * a.length;
                    default -> throw new IllegalStateException("array of " + v.value().getClass());
                }
                yield n;
            }
            default -> v.type().fixedBytes();
        };
    }

    private static void putValue(ByteBuffer b, Value v) {
        switch (v.type()) {
            case STRING -> putBytes(b, (byte[]) v.value());
            case UINT32 -> b.putInt((int) (long) (Long) v.value());
            case FLOAT32 -> b.putFloat((Float) v.value());
            case BOOL -> b.put((byte) ((Boolean) v.value() ? 1 : 0));
            case ARRAY -> {
                b.putInt(v.element().id());
                switch (v.value()) {
                    case List<?> strings -> {
                        b.putLong(strings.size());
                        strings.forEach(s -> putBytes(b, (byte[]) s));
                    }
                    case float[] f -> {
                        b.putLong(f.length);
                        for (float x : f) {
                            b.putFloat(x);
                        }
                    }
                    case int[] a -> {
                        b.putLong(a.length);
                        for (int x : a) {
                            b.putInt(x);
                        }
                    }
                    default -> throw new IllegalStateException("array of " + v.value().getClass());
                }
            }
            default -> throw new IllegalStateException("no writer for " + v.type());
        }
    }

    private static void putBytes(ByteBuffer b, byte[] s) {
        b.putLong(s.length).put(s);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}
