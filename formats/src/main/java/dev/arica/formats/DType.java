package dev.arica.formats;

import java.util.Optional;

/** Element types of tensors, named as safetensors names them. */
public enum DType {
    F64(8, Kind.FLOAT),
    F32(4, Kind.FLOAT),
    F16(2, Kind.FLOAT),
    BF16(2, Kind.FLOAT),
    F8_E4M3(1, Kind.FLOAT),
    F8_E5M2(1, Kind.FLOAT),
    I64(8, Kind.SIGNED),
    I32(4, Kind.SIGNED),
    I16(2, Kind.SIGNED),
    I8(1, Kind.SIGNED),
    U64(8, Kind.UNSIGNED),
    U32(4, Kind.UNSIGNED),
    U16(2, Kind.UNSIGNED),
    U8(1, Kind.UNSIGNED),
    BOOL(1, Kind.BOOLEAN);

    /** What an element of the type holds. */
    public enum Kind { FLOAT, SIGNED, UNSIGNED, BOOLEAN }

    private final int byteSize;
    private final Kind kind;

    DType(int byteSize, Kind kind) {
        this.byteSize = byteSize;
        this.kind = kind;
    }

    /** Bytes of one element. */
    public int byteSize() {
        return byteSize;
    }

    public Kind kind() {
        return kind;
    }

    public boolean isFloat() {
        return kind == Kind.FLOAT;
    }

    /** The name in a safetensors header, e.g. "BF16". */
    public String safetensorsName() {
        return name();
    }

    /** Bytes taken by {@code elements} elements; throws ArithmeticException on overflow. */
    public long bytesFor(long elements) {
        return Math.multiplyExact(elements, (long) byteSize);
    }

    public static Optional<DType> fromSafetensorsName(String name) {
        for (DType t : values()) {
            if (t.name().equals(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** Parses a user-facing name such as "f16" or "bf16" (case-insensitive). */
    public static Optional<DType> parse(String name) {
        return fromSafetensorsName(name.toUpperCase(java.util.Locale.ROOT));
    }
}
