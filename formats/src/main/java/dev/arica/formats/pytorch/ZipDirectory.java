package dev.arica.formats.pytorch;

import dev.arica.formats.FormatException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.zip.CRC32;

/**
 * The entries of a zip archive in memory (a mapped file), read from its central directory (zip64 included) and
 * checked against the archive's bytes: every count, size and offset is compared with what the file holds before
 * it is used, and each entry's local header must agree with the central one. Entry data is never inflated:
 * readers take stored entries as they lie ({@link #stored}).
 */
final class ZipDirectory {

    /**
     * One entry, sizes and offsets already widened by its zip64 field.
     *
     * @param data offset of its first data byte in the archive, after the local header
     */
    record Entry(String name, int flags, int method, long crc, long compressedSize, long size, long data) {}

    private static final int LOCAL = 0x04034b50;
    private static final int CENTRAL = 0x02014b50;
    private static final int END = 0x06054b50;
    private static final int END64 = 0x06064b50;
    private static final int LOCATOR64 = 0x07064b50;
    private static final int END_SIZE = 22;
    private static final int LOCATOR64_SIZE = 20;
    private static final int END64_SIZE = 56;
    private static final int CENTRAL_SIZE = 46;
    private static final int LOCAL_SIZE = 30;
    private static final int MAX_COMMENT = 0xffff;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final MemorySegment zip;
    private final List<Entry> entries;
    private final Map<String, Entry> byName;

    private ZipDirectory(Path file, MemorySegment zip, List<Entry> entries, Map<String, Entry> byName) {
        this.file = file;
        this.zip = zip;
        this.entries = entries;
        this.byName = byName;
    }

    static ZipDirectory read(Path file, MemorySegment zip) throws FormatException {
        long size = zip.byteSize();
        long end = findEnd(zip);
        if (end < 0) {
            throw new FormatException(file, "zip archive has no end-of-central-directory record in its last "
                    + (END_SIZE + MAX_COMMENT) + " bytes: truncated, or not a zip archive");
        }
        long count = u16(zip, end + 10);
        long cdSize = u32(zip, end + 12);
        long cdOffset = u32(zip, end + 16);
        long cdLimit = end;
        if (u16(zip, end + 4) != 0 || u16(zip, end + 6) != 0) {
            throw new FormatException(file, "zip archive spans several disks: not read");
        }
        if (end >= LOCATOR64_SIZE && u32(zip, end - LOCATOR64_SIZE) == LOCATOR64) {
            long at = zip.get(U64, end - LOCATOR64_SIZE + 8);
            if (at < 0 || at > end - LOCATOR64_SIZE - END64_SIZE || u32(zip, at) != END64) {
                throw new FormatException(file, "zip64 end-of-central-directory record at " + Long.toUnsignedString(at)
                        + " is missing or overlaps its locator");
            }
            count = zip.get(U64, at + 32);
            cdSize = zip.get(U64, at + 40);
            cdOffset = zip.get(U64, at + 48);
            cdLimit = at;
        } else if (count == 0xffff || cdSize == 0xffffffffL || cdOffset == 0xffffffffL) {
            throw new FormatException(file, "zip archive's end record defers to a zip64 record that is not there");
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset > cdLimit || cdSize > cdLimit - cdOffset) {
            throw new FormatException(file, "zip central directory [" + Long.toUnsignedString(cdOffset) + ", +"
                    + Long.toUnsignedString(cdSize) + ") lies outside the " + size + "-byte archive");
        }
        if (count < 0 || count > cdSize / CENTRAL_SIZE) {
            throw new FormatException(file, "zip archive claims " + Long.toUnsignedString(count) + " entries, more than "
                    + "its " + cdSize + "-byte central directory can hold");
        }
        List<Entry> entries = new ArrayList<>();
        Map<String, Entry> byName = new HashMap<>();
        long q = cdOffset;
        long cdEnd = cdOffset + cdSize;
        for (long i = 0; i < count; i++) {
            Entry e = central(file, zip, q, cdEnd, cdOffset);
            if (byName.putIfAbsent(e.name(), e) != null) {
                throw new FormatException(file, "zip entry '" + PickleReader.printable(e.name()) + "' appears twice");
            }
            entries.add(e);
            q += CENTRAL_SIZE + u16(zip, q + 28) + u16(zip, q + 30) + u16(zip, q + 32);
        }
        return new ZipDirectory(file, zip, Collections.unmodifiableList(entries), byName);
    }

    /** The end record: its signature, with a comment length that reaches exactly the end of the file. */
    private static long findEnd(MemorySegment zip) {
        long size = zip.byteSize();
        for (long p = size - END_SIZE; p >= 0 && p >= size - END_SIZE - MAX_COMMENT; p--) {
            if (u32(zip, p) == END && u16(zip, p + 20) == size - p - END_SIZE) {
                return p;
            }
        }
        return -1;
    }

    private static Entry central(Path file, MemorySegment zip, long q, long cdEnd, long dataLimit)
            throws FormatException {
        if (q + CENTRAL_SIZE > cdEnd || u32(zip, q) != CENTRAL) {
            throw new FormatException(file, "zip central directory entry at " + q + " is cut short or corrupt");
        }
        int nameLength = u16(zip, q + 28);
        int extraLength = u16(zip, q + 30);
        int commentLength = u16(zip, q + 32);
        if (q + CENTRAL_SIZE + nameLength + extraLength + commentLength > cdEnd) {
            throw new FormatException(file, "zip central directory entry at " + q + " runs past the directory");
        }
        byte[] rawName = new byte[nameLength];
        MemorySegment.copy(zip, ValueLayout.JAVA_BYTE, q + CENTRAL_SIZE, rawName, 0, nameLength);
        String name = name(file, rawName, q);
        long[] wide = {u32(zip, q + 24), u32(zip, q + 20), u32(zip, q + 42)};
        zip64(file, zip, name, q + CENTRAL_SIZE + nameLength, extraLength, wide);
        long size = wide[0];
        long compressed = wide[1];
        long local = wide[2];
        String shown = PickleReader.printable(name);
        if (local < 0 || local > dataLimit - LOCAL_SIZE || u32(zip, local) != LOCAL) {
            throw new FormatException(file, "zip entry '" + shown + "' has no local header at "
                    + Long.toUnsignedString(local));
        }
        int localName = u16(zip, local + 26);
        long data = local + LOCAL_SIZE + localName + u16(zip, local + 28);
        if (localName != nameLength || data > dataLimit
                || MemorySegment.mismatch(zip, local + LOCAL_SIZE, local + LOCAL_SIZE + nameLength,
                        zip, q + CENTRAL_SIZE, q + CENTRAL_SIZE + nameLength) != -1) {
            throw new FormatException(file, "zip entry '" + shown + "': its local header does not match the "
                    + "central directory");
        }
        if (compressed < 0 || size < 0 || compressed > dataLimit - data) {
            throw new FormatException(file, "zip entry '" + shown + "' of " + Long.toUnsignedString(compressed)
                    + " bytes at " + data + " runs past the entries' end at " + dataLimit + " (truncated or a lying size)");
        }
        return new Entry(name, u16(zip, q + 8), u16(zip, q + 10), u32(zip, q + 16), compressed, size, data);
    }

    /** Replaces the saturated 32-bit size, compressed size and offset by their zip64 values, in that order. */
    private static void zip64(Path file, MemorySegment zip, String name, long extra, int length, long[] wide)
            throws FormatException {
        boolean saturated = false;
        for (long w : wide) {
            saturated |= w == 0xffffffffL;
        }
        if (!saturated) {
            return;
        }
        for (long p = extra; p + 4 <= extra + length; ) {
            int id = u16(zip, p);
            int n = u16(zip, p + 2);
            if (p + 4 + n > extra + length) {
                break;
            }
            if (id == 0x0001) {
                long v = p + 4;
                for (int i = 0; i < wide.length; i++) {
                    if (wide[i] == 0xffffffffL) {
                        if (v + 8 > p + 4 + n) {
                            throw new FormatException(file, "zip entry '" + PickleReader.printable(name)
                                    + "': its zip64 field is too short");
                        }
                        wide[i] = zip.get(U64, v);
                        v += 8;
                    }
                }
                return;
            }
            p += 4 + n;
        }
        throw new FormatException(file, "zip entry '" + PickleReader.printable(name) + "' needs a zip64 field and has none");
    }

    private static String name(Path file, byte[] raw, long at) throws FormatException {
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(raw)).toString();
        } catch (CharacterCodingException e) {
            throw new FormatException(file, "zip entry name at " + at + " is not UTF-8");
        }
    }

    List<Entry> entries() {
        return entries;
    }

    Optional<Entry> entry(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /**
     * The bytes of {@code e} as they lie in the archive, which must be stored uncompressed and unencrypted.
     *
     * @param tensor the tensor they are read for, named by a refusal; may be null
     */
    MemorySegment stored(Entry e, String tensor) throws FormatException {
        String shown = PickleReader.printable(e.name());
        if ((e.flags() & 1) != 0) {
            throw new FormatException(file, tensor, "zip entry '" + shown + "' is encrypted");
        }
        if (e.method() != 0 || e.compressedSize() != e.size()) {
            throw new FormatException(file, tensor, "zip entry '" + shown + "' is compressed (method " + e.method()
                    + "); PyTorch stores entries uncompressed, and arica maps them as they lie");
        }
        return zip.asSlice(e.data(), e.size());
    }

    /** {@link #stored} with its CRC-32 checked: for the small records, whose bytes are read whole anyway. */
    MemorySegment checked(Entry e) throws FormatException {
        MemorySegment bytes = stored(e, null);
        if (bytes.byteSize() > Integer.MAX_VALUE) {
            throw new FormatException(file, "zip entry '" + PickleReader.printable(e.name()) + "' of " + bytes.byteSize()
                    + " bytes is too large for a record");
        }
        CRC32 crc = new CRC32();
        crc.update(bytes.asByteBuffer());
        if (crc.getValue() != e.crc()) {
            throw new FormatException(file, "zip entry '" + PickleReader.printable(e.name()) + "' fails its CRC-32 check "
                    + "(corrupt)");
        }
        return bytes;
    }

    private static int u16(MemorySegment zip, long at) {
        return Short.toUnsignedInt(zip.get(U16, at));
    }

    private static long u32(MemorySegment zip, long at) {
        return Integer.toUnsignedLong(zip.get(U32, at));
    }
}
