package dev.arica.formats.gguf;

import dev.arica.formats.FormatException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Reads a GGUF file's header fields from its mapping, each read checked against the bytes left: a count or length
 * that runs past the end is a one-line {@link FormatException} saying what was being read, never a large
 * allocation. Strings must be UTF-8.
 */
final class GgufCursor {
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Arrays nest at most this deep: GGUF allows nesting, and recursion must stay bounded. */
    static final int MAX_NESTING = 8;

    private final Path file;
    private final MemorySegment s;
    private long at;

    GgufCursor(Path file, MemorySegment s, long at) {
        this.file = file;
        this.s = s;
        this.at = at;
    }

    long position() {
        return at;
    }

    long remaining() {
        return s.byteSize() - at;
    }

    FormatException error(String problem) {
        return new FormatException(file, problem);
    }

    /** Refuses unless {@code n} more bytes are there for {@code what}. */
    void need(long n, String what) throws FormatException {
        if (n < 0 || n > remaining()) {
            throw error("the file ends inside " + what + " (at byte " + at + ", " + (n < 0 ? "an impossible length"
                    : n + " bytes needed") + ", " + remaining() + " left)");
        }
    }

    int u8(String what) throws FormatException {
        need(1, what);
        return s.get(ValueLayout.JAVA_BYTE, at++) & 0xff;
    }

    int u32(String what) throws FormatException {
        need(4, what);
        int v = s.get(U32, at);
        at += 4;
        return v;
    }

    /** A uint64 count or size; above {@link Long#MAX_VALUE} it is negative, which callers refuse as too large. */
    long u64(String what) throws FormatException {
        need(8, what);
        long v = s.get(U64, at);
        at += 8;
        return v;
    }

    /** A string: its uint64 length, checked against the bytes left before anything is allocated, then UTF-8. */
    String string(String what) throws FormatException {
        long length = u64("the length of " + what);
        if (length < 0 || length > remaining()) {
            throw error(what + " claims " + Long.toUnsignedString(length) + " bytes, more than the " + remaining()
                    + " left in the file");
        }
        String v = utf8(s.asSlice(at, length), what);
        at += length;
        return v;
    }

    /** Skips a string, checking its length only (its bytes are decoded when asked for). */
    void skipString(String what) throws FormatException {
        long length = u64("the length of " + what);
        if (length < 0 || length > remaining()) {
            throw error(what + " claims " + Long.toUnsignedString(length) + " bytes, more than the " + remaining()
                    + " left in the file");
        }
        at += length;
    }

    String utf8(MemorySegment bytes, String what) throws FormatException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(bytes.asByteBuffer()).toString();
        } catch (CharacterCodingException e) {
            throw error(what + " is not valid UTF-8");
        }
    }

    /**
     * Reads one value of {@code type} for {@code key}: scalars decoded, arrays checked element by element (counts
     * against the bytes left, nesting at most {@link #MAX_NESTING} deep, booleans 0 or 1) and kept as a view.
     */
    GgufValue value(String key, GgufValueType type, int depth) throws FormatException {
        String what = "metadata '" + key + "'";
        return switch (type) {
            case UINT8 -> GgufValue.of(type, (long) u8(what));
            case INT8 -> GgufValue.of(type, (long) (byte) u8(what));
            case UINT16 -> GgufValue.of(type, (long) (u16(what) & 0xffff));
            case INT16 -> GgufValue.of(type, (long) u16(what));
            case UINT32 -> GgufValue.of(type, u32(what) & 0xffffffffL);
            case INT32 -> GgufValue.of(type, (long) u32(what));
            case UINT64, INT64 -> GgufValue.of(type, u64(what));
            case FLOAT32 -> GgufValue.of(type, (double) Float.intBitsToFloat(u32(what)));
            case FLOAT64 -> GgufValue.of(type, Double.longBitsToDouble(u64(what)));
            case BOOL -> GgufValue.of(type, bool(what));
            case STRING -> GgufValue.of(type, string(what));
            case ARRAY -> array(key, depth);
        };
    }

    private short u16(String what) throws FormatException {
        need(2, what);
        short v = s.get(U16, at);
        at += 2;
        return v;
    }

    private boolean bool(String what) throws FormatException {
        int b = u8(what);
        if (b > 1) {
            throw error(what + " is a boolean of byte value " + b + " (must be 0 or 1)");
        }
        return b == 1;
    }

    private GgufValue array(String key, int depth) throws FormatException {
        String what = "metadata '" + key + "'";
        if (depth >= MAX_NESTING) {
            throw error(what + " nests arrays more than " + MAX_NESTING + " deep");
        }
        int typeId = u32("the element type of " + what);
        GgufValueType element = GgufValueType.of(typeId & 0xffffffffL).orElseThrow(() -> error(what
                + " is an array of unknown value type " + Integer.toUnsignedString(typeId)));
        long count = u64("the length of " + what);
        if (count < 0 || count > remaining() / element.minBytes()) {
            throw error(what + " claims " + Long.toUnsignedString(count) + " " + element.displayName()
                    + " elements, more than the " + remaining() + " bytes left in the file can hold");
        }
        long start = at;
        if (element.fixedBytes() > 0) {
            at += count * element.fixedBytes();
            if (element == GgufValueType.BOOL) {
                for (long i = 0; i < count; i++) {
                    int b = s.get(ValueLayout.JAVA_BYTE, start + i) & 0xff;
                    if (b > 1) {
                        throw error(what + " element " + i + " is a boolean of byte value " + b + " (must be 0 or 1)");
                    }
                }
            }
        } else {
            for (long i = 0; i < count; i++) {
                if (element == GgufValueType.STRING) {
                    skipString(what + " element " + i);
                } else {
                    value(key + "[" + i + "]", element, depth + 1);
                }
            }
        }
        return GgufValue.array(element, count, s.asSlice(start, at - start), file);
    }
}
