package dev.arica.formats.gguf;

import dev.arica.formats.FormatException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One GGUF metadata value: a scalar, decoded when the file is opened (integers as a long, uint64 as its bits; floats
 * as a double; booleans; strings), or an array, whose elements stay in the mapping until asked for (a vocabulary of
 * 150,000 tokens costs nothing to inspect). Array views are valid while their file is open.
 */
public final class GgufValue {
    /** Arrays of at most this many scalar elements are shown whole by {@link #toString()}. */
    private static final int SHOWN_ELEMENTS = 8;

    private final GgufValueType type;
    private final Object scalar;
    private final GgufValueType elementType;
    private final long size;
    private final MemorySegment elements;
    private final Path file;

    private GgufValue(GgufValueType type, Object scalar, GgufValueType elementType, long size, MemorySegment elements,
            Path file) {
        this.type = type;
        this.scalar = scalar;
        this.elementType = elementType;
        this.size = size;
        this.elements = elements;
        this.file = file;
    }

    static GgufValue of(GgufValueType type, Object scalar) {
        return new GgufValue(type, scalar, null, 0, null, null);
    }

    static GgufValue array(GgufValueType elementType, long size, MemorySegment elements, Path file) {
        return new GgufValue(GgufValueType.ARRAY, null, elementType, size, elements, file);
    }

    public GgufValueType type() {
        return type;
    }

    public boolean isArray() {
        return type == GgufValueType.ARRAY;
    }

    /** The type of an array's elements; null for a scalar. */
    public GgufValueType elementType() {
        return elementType;
    }

    /** Elements of an array; 0 for a scalar. */
    public long size() {
        return size;
    }

    /** An integer scalar; uint64 above {@link Long#MAX_VALUE} comes back negative. */
    public long asLong() {
        return (Long) scalarOf(type.isInteger(), "an integer");
    }

    /** A float scalar, float32 widened exactly. */
    public double asDouble() {
        return (Double) scalarOf(type.isFloat(), "a float");
    }

    public boolean asBoolean() {
        return (Boolean) scalarOf(type == GgufValueType.BOOL, "a boolean");
    }

    public String asString() {
        return (String) scalarOf(type == GgufValueType.STRING, "a string");
    }

    private Object scalarOf(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("a " + describe() + " value, not " + what);
        }
        return scalar;
    }

    /** Element {@code i} of an array of integers, as {@link #asLong()}. */
    public long longAt(long i) {
        checkElement(i, elementType != null && elementType.isInteger(), "integers");
        long at = i * elementType.fixedBytes();
        return switch (elementType) {
            case UINT8 -> elements.get(ValueLayout.JAVA_BYTE, at) & 0xffL;
            case INT8 -> elements.get(ValueLayout.JAVA_BYTE, at);
            case UINT16 -> elements.get(GgufCursor.U16, at) & 0xffffL;
            case INT16 -> elements.get(GgufCursor.U16, at);
            case UINT32 -> elements.get(GgufCursor.U32, at) & 0xffffffffL;
            case INT32 -> elements.get(GgufCursor.U32, at);
            default -> elements.get(GgufCursor.U64, at);
        };
    }

    /** Element {@code i} of an array of floats, float32 widened exactly. */
    public double doubleAt(long i) {
        checkElement(i, elementType != null && elementType.isFloat(), "floats");
        return elementType == GgufValueType.FLOAT32 ? elements.get(GgufCursor.F32, i * 4)
                : elements.get(GgufCursor.F64, i * 8);
    }

    /** Element {@code i} of an array of booleans. */
    public boolean booleanAt(long i) {
        checkElement(i, elementType == GgufValueType.BOOL, "booleans");
        return elements.get(ValueLayout.JAVA_BYTE, i) != 0;
    }

    private void checkElement(long i, boolean ok, String what) {
        requireArrayOf(ok, what);
        if (i < 0 || i >= size) {
            throw new IndexOutOfBoundsException("element " + i + " of an array of " + size);
        }
    }

    private void requireArrayOf(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException("a " + describe() + " value, not an array of " + what);
        }
    }

    /** The strings of an array of strings, decoded in order; invalid UTF-8 is a FormatException naming {@code key}. */
    public List<String> strings(String key) throws FormatException {
        requireArrayOf(elementType == GgufValueType.STRING, "strings");
        GgufCursor c = new GgufCursor(file, elements, 0);
        List<String> out = new ArrayList<>((int) Math.min(size, Integer.MAX_VALUE - 8));
        for (long i = 0; i < size; i++) {
            out.add(c.string("metadata '" + key + "' element " + i));
        }
        return out;
    }

    /** The arrays of an array of arrays. */
    public List<GgufValue> arrays(String key) throws FormatException {
        requireArrayOf(elementType == GgufValueType.ARRAY, "arrays");
        GgufCursor c = new GgufCursor(file, elements, 0);
        List<GgufValue> out = new ArrayList<>();
        for (long i = 0; i < size; i++) {
            out.add(c.value(key + "[" + i + "]", GgufValueType.ARRAY, 1));
        }
        return out;
    }

    /** "uint32", or "array of string". */
    public String describe() {
        return isArray() ? "array of " + elementType.displayName() : type.displayName();
    }

    /**
     * The value as inspect shows it: a scalar as text (a float32 as the shortest decimal of its float), an array of
     * a few scalars whole, a longer one or one of strings or arrays by its length and element type.
     */
    @Override
    public String toString() {
        if (!isArray()) {
            return type == GgufValueType.FLOAT32 ? Float.toString((float) asDouble()) : String.valueOf(scalar);
        }
        if (size > SHOWN_ELEMENTS || elementType == GgufValueType.STRING || elementType == GgufValueType.ARRAY) {
            return String.format(Locale.ROOT, "[%d x %s]", size, elementType.displayName());
        }
        List<String> shown = new ArrayList<>();
        for (long i = 0; i < size; i++) {
            shown.add(elementType.isInteger() ? Long.toString(longAt(i)) : elementType == GgufValueType.BOOL
                    ? Boolean.toString(booleanAt(i)) : elementType == GgufValueType.FLOAT32
                    ? Float.toString((float) doubleAt(i)) : Double.toString(doubleAt(i)));
        }
        return "[" + String.join(", ", shown) + "]";
    }
}
