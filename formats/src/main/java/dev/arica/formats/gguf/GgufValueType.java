package dev.arica.formats.gguf;

import java.util.Locale;
import java.util.Optional;

/**
 * The types of GGUF metadata values (gguf.md's gguf_metadata_value_type), each with its id and, for the fixed-size
 * ones, its bytes. Strings are a uint64 byte length and UTF-8 bytes; arrays a uint32 element type, a uint64 count and
 * the elements (arrays may nest). Booleans are one byte, 0 or 1. All little-endian.
 */
public enum GgufValueType {
    UINT8(0, 1),
    INT8(1, 1),
    UINT16(2, 2),
    INT16(3, 2),
    UINT32(4, 4),
    INT32(5, 4),
    FLOAT32(6, 4),
    BOOL(7, 1),
    STRING(8, 0),
    ARRAY(9, 0),
    UINT64(10, 8),
    INT64(11, 8),
    FLOAT64(12, 8);

    /** Bytes of a string's length and of an array's element type and count, which precede their contents. */
    public static final int STRING_HEADER_BYTES = 8;
    public static final int ARRAY_HEADER_BYTES = 4 + 8;

    private final int id;
    private final int fixedBytes;

    GgufValueType(int id, int fixedBytes) {
        this.id = id;
        this.fixedBytes = fixedBytes;
    }

    public int id() {
        return id;
    }

    /** Bytes of one value, or 0 for STRING and ARRAY, whose size is in their header. */
    public int fixedBytes() {
        return fixedBytes;
    }

    /** The fewest bytes a value of this type takes: what bounds an array's count by the bytes left in a file. */
    public int minBytes() {
        return switch (this) {
            case STRING -> STRING_HEADER_BYTES;
            case ARRAY -> ARRAY_HEADER_BYTES;
            default -> fixedBytes;
        };
    }

    public boolean isInteger() {
        return this != FLOAT32 && this != FLOAT64 && this != BOOL && fixedBytes > 0;
    }

    public boolean isFloat() {
        return this == FLOAT32 || this == FLOAT64;
    }

    /** The type numbered {@code id}; empty for an unknown one. */
    public static Optional<GgufValueType> of(long id) {
        for (GgufValueType t : values()) {
            if (t.id == id) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** The lower-case name gguf.md uses: "uint32", "string". */
    public String displayName() {
        return name().toLowerCase(Locale.ROOT);
    }
}
