package dev.arica.runtime.ort;

import dev.arica.formats.FormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The dynamic loader's cache, {@code /etc/ld.so.cache}, in glibc's format "glibc-ld.so.cache1.1": a
 * 48-byte header (magic, version, u32 entry count, u32 string table length, flags, extension offset),
 * then 24-byte entries (i32 flags, u32 soname offset, u32 path offset, u32 unused, u64 hwcap) whose
 * offsets count from the header. Files that also carry the old "ld.so-1.7.0" table have the new header
 * after it.
 */
final class LdSoCache {
    static final Path SYSTEM = Path.of("/etc/ld.so.cache");
    static final String MAGIC = "glibc-ld.so.cache1.1";
    /** Real caches are tens of kilobytes. */
    static final long MAX_BYTES = 64L << 20;
    static final int HEADER = 48, ENTRY = 24;
    /** Entry flags: ELF libc6, and the architecture in the high byte. */
    static final int FLAG_ELF_LIBC6 = 0x0003, FLAG_X8664_LIB64 = 0x0300, FLAG_AARCH64_LIB64 = 0x0a00;

    record Entry(String soname, Path path, int flags) {}

    private LdSoCache() {}

    static List<Entry> read(Path file) throws IOException {
        long size = Files.size(file);
        if (size > MAX_BYTES) {
            throw new FormatException(file, "is " + size + " bytes, more than a loader cache has");
        }
        byte[] bytes = Files.readAllBytes(file);
        int h = indexOf(bytes, MAGIC.getBytes(StandardCharsets.US_ASCII));
        if (h < 0) {
            throw new FormatException(file, "is not a glibc loader cache (no '" + MAGIC + "')");
        }
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length - h < HEADER) {
            throw new FormatException(file, "ends inside its header");
        }
        long n = Integer.toUnsignedLong(b.getInt(h + 20));
        if (n > (bytes.length - h - HEADER) / ENTRY) {
            throw new FormatException(file, "claims " + n + " entries, more than its " + bytes.length + " bytes hold");
        }
        List<Entry> out = new ArrayList<>((int) n);
        for (int i = 0; i < n; i++) {
            int e = h + HEADER + i * ENTRY;
            int flags = b.getInt(e);
            String key = string(bytes, h, Integer.toUnsignedLong(b.getInt(e + 4)), file);
            String value = string(bytes, h, Integer.toUnsignedLong(b.getInt(e + 8)), file);
            out.add(new Entry(key, Path.of(value), flags));
        }
        return out;
    }

    /** The flags an entry usable by this JVM carries, or -1 when the architecture is not one we know. */
    static int flagsForThisJvm() {
        return switch (System.getProperty("os.arch", "")) {
            case "amd64", "x86_64" -> FLAG_ELF_LIBC6 | FLAG_X8664_LIB64;
            case "aarch64" -> FLAG_ELF_LIBC6 | FLAG_AARCH64_LIB64;
            default -> -1;
        };
    }

    private static String string(byte[] bytes, int base, long offset, Path file) throws FormatException {
        long start = base + offset;
        if (start >= bytes.length) {
            throw new FormatException(file, "has a string offset " + offset + " beyond its end");
        }
        int end = (int) start;
        while (end < bytes.length && bytes[end] != 0) {
            end++;
        }
        if (end == bytes.length) {
            throw new FormatException(file, "has an unterminated string at offset " + offset);
        }
        return new String(bytes, (int) start, end - (int) start, StandardCharsets.UTF_8);
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
