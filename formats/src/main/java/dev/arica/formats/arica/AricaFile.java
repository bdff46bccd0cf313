package dev.arica.formats.arica;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.luben.zstd.Zstd;
import dev.arica.formats.AuxFile;
import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * An .arica file, mapped once. Opening validates the header, trailer, index checksum and the structure
 * of every entry (docs/arica-format.md); blob checksums are checked by {@link #verify()}.
 */
public final class AricaFile implements AutoCloseable {

    private final Path path;
    private final Arena arena;
    private final MemorySegment file;
    private final List<AricaEntry> entries;
    private final Map<String, AricaEntry> byName;
    private final List<FileEntry> files;
    private final ObjectNode index;

    /** An embedded side file. */
    public record FileEntry(String name, long offset, long length, long crc32c) {}

    private AricaFile(Path path, Arena arena, MemorySegment file, List<AricaEntry> entries, List<FileEntry> files,
            ObjectNode index) {
        this.path = path;
        this.arena = arena;
        this.file = file;
        this.entries = entries;
        this.files = files;
        this.index = index;
        Map<String, AricaEntry> m = new LinkedHashMap<>();
        for (AricaEntry e : entries) {
            m.put(e.name(), e);
        }
        this.byName = Collections.unmodifiableMap(m);
    }

    /** True when the file starts with the .arica magic. */
    public static boolean looksLikeArica(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(8);
            ch.read(b, 0);
            return !b.hasRemaining() && java.util.Arrays.equals(b.array(), AricaFormat.MAGIC);
        }
    }

    public static AricaFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < AricaFormat.HEADER_BYTES + AricaFormat.TRAILER_BYTES) {
                throw new FormatException(path, "file is " + size + " bytes, too short for an .arica header and trailer");
            }
            MemorySegment file = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            if (MemorySegment.ofArray(AricaFormat.MAGIC).mismatch(file.asSlice(0, 8)) != -1) {
                throw new FormatException(path, "not an .arica file (bad magic)");
            }
            int major = Short.toUnsignedInt(file.get(AricaFormat.U16, 8));
            int minor = Short.toUnsignedInt(file.get(AricaFormat.U16, 10));
            if (major > AricaFormat.NEWEST) {
                throw new FormatException(path, "format version " + major + "." + minor + " is newer than this arica reads ("
                        + AricaFormat.NEWEST + ".x); upgrade arica");
            }
            if (major < 1) {
                throw new FormatException(path, "format version " + major + "." + minor + " is not valid");
            }
            long t = size - AricaFormat.TRAILER_BYTES;
            if (MemorySegment.ofArray(AricaFormat.END_MAGIC).mismatch(file.asSlice(t, 8)) != -1) {
                throw new FormatException(path, "trailer is missing (file truncated or not completely written)");
            }
            long indexOffset = file.get(AricaFormat.U64, t + 8);
            long indexLength = file.get(AricaFormat.U64, t + 16);
            long indexCrc = Integer.toUnsignedLong(file.get(AricaFormat.U32, t + 24));
            if (indexLength < 0 || indexLength > AricaFormat.MAX_INDEX_BYTES || indexOffset < AricaFormat.HEADER_BYTES
                    || indexOffset > t || indexLength > t - indexOffset) {
                throw new FormatException(path, "index [" + indexOffset + ", +" + indexLength
                        + ") lies outside the file's index region (file is " + size + " bytes)");
            }
            byte[] json = file.asSlice(indexOffset, indexLength).toArray(ValueLayout.JAVA_BYTE);
            CRC32C crc = new CRC32C();
            crc.update(json);
            if (crc.getValue() != indexCrc) {
                throw new FormatException(path, "index checksum mismatch (the index is corrupt)");
            }
            JsonNode root = Json.parse(path, json, "index");
            if (!(root instanceof ObjectNode idx)) {
                throw new FormatException(path, "index is not a JSON object");
            }
            List<AricaEntry> entries = parseEntries(path, idx, indexOffset, major);
            List<FileEntry> files = parseFiles(path, idx, indexOffset);
            checkOverlaps(path, entries, files);
            return new AricaFile(path, arena, file, entries, files, idx);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static List<AricaEntry> parseEntries(Path path, ObjectNode idx, long dataEnd, int major) throws FormatException {
        JsonNode ts = idx.get("tensors");
        if (ts == null || !ts.isArray()) {
            throw new FormatException(path, "index has no \"tensors\" array");
        }
        List<AricaEntry> out = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (JsonNode n : ts) {
            String name = n.path("name").isTextual() ? n.get("name").textValue() : null;
            if (name == null) {
                throw new FormatException(path, "index has a tensor without a name");
            }
            if (!names.add(name)) {
                throw new FormatException(path, name, "appears twice in the index");
            }
            DType dtype = DType.fromSafetensorsName(n.path("dtype").asText(""))
                    .orElseThrow(() -> new FormatException(path, name, "unknown dtype '" + n.path("dtype").asText("") + "'"));
            long[] shape = longs(path, name, n.get("shape"), "shape");
            String sid = n.path("storage").asText("");
            Storage storage;
            try {
                boolean transposed = flag(path, name, n, "transposed", major, AricaFormat.MAJOR_TRANSPOSED, shape);
                boolean permuted = flag(path, name, n, "permuted", major, AricaFormat.MAJOR_PERMUTED, shape);
                storage = Storage.parse(sid, n.path("group_size").asInt(32), n.path("asymmetric").asBoolean(false),
                        transposed, permuted).orElseThrow(() -> new FormatException(path, name, "unknown storage type '"
                        + sid + "'"));
            } catch (IllegalArgumentException e) {
                throw new FormatException(path, name, "invalid storage '" + sid + "': " + e.getMessage());
            }
            long offset = nonNegative(path, name, n, "offset");
            long length = nonNegative(path, name, n, "length");
            long raw = nonNegative(path, name, n, "raw_length");
            long crc = nonNegative(path, name, n, "crc32c");
            String comp = n.path("compression").asText("none");
            if (!comp.equals("none") && !comp.equals("zstd")) {
                throw new FormatException(path, name, "unknown compression '" + comp + "'");
            }
            long expected;
            try {
                expected = storage.rawBytes(shape);
            } catch (ArithmeticException e) {
                throw new FormatException(path, name, "shape is too large");
            }
            if (raw != expected) {
                throw new FormatException(path, name, "raw_length " + raw + " does not match shape "
                        + java.util.Arrays.toString(shape) + " stored as " + sid + " (" + expected + " bytes)");
            }
            boolean zstd = comp.equals("zstd");
            if (!zstd && length != raw) {
                throw new FormatException(path, name, "length " + length + " differs from raw_length " + raw
                        + " for an uncompressed tensor");
            }
            checkBlob(path, name, offset, length, dataEnd);
            out.add(new AricaEntry(name, dtype, shape, storage, offset, length, raw, crc, zstd,
                    zstd ? n.path("zstd_level").asInt(0) : 0));
        }
        return Collections.unmodifiableList(out);
    }

    /**
     * An optional storage flag of a 2-D quantized tensor ("transposed", "permuted"), which files from major version
     * {@code since} may hold: refused in an older file (whose readers would misread the rows) and on other ranks.
     */
    private static boolean flag(Path path, String name, JsonNode n, String key, int major, int since, long[] shape)
            throws FormatException {
        boolean on = n.path(key).asBoolean(false);
        if (on && major < since) {
            throw new FormatException(path, name, "is stored " + key + " in a version " + major + " file (needs " + since
                    + ")");
        }
        if (on && shape.length != 2) {
            throw new FormatException(path, name, "is stored " + key + " but has " + shape.length + " dimensions, not 2");
        }
        return on;
    }

    private static List<FileEntry> parseFiles(Path path, ObjectNode idx, long dataEnd) throws FormatException {
        List<FileEntry> out = new ArrayList<>();
        JsonNode fs = idx.get("files");
        if (fs == null) {
            return out;
        }
        if (!fs.isArray()) {
            throw new FormatException(path, "index \"files\" is not an array");
        }
        for (JsonNode n : fs) {
            String name = n.path("name").asText("");
            if (name.isEmpty() || name.contains("/") || name.contains("\\") || name.equals("..") || name.equals(".")) {
                throw new FormatException(path, "embedded file name '" + name + "' is not a plain file name");
            }
            long offset = nonNegative(path, name, n, "offset");
            long length = nonNegative(path, name, n, "length");
            checkBlob(path, name, offset, length, dataEnd);
            out.add(new FileEntry(name, offset, length, nonNegative(path, name, n, "crc32c")));
        }
        return Collections.unmodifiableList(out);
    }

    private static void checkBlob(Path path, String name, long offset, long length, long dataEnd) throws FormatException {
        if (offset % AricaFormat.ALIGNMENT != 0) {
            throw new FormatException(path, name, "offset " + offset + " is not a multiple of " + AricaFormat.ALIGNMENT);
        }
        if (offset < AricaFormat.HEADER_BYTES || offset > dataEnd || length > dataEnd - offset) {
            throw new FormatException(path, name, "data [" + offset + ", +" + length + ") lies outside the data region [64, "
                    + dataEnd + ")");
        }
    }

    private static void checkOverlaps(Path path, List<AricaEntry> entries, List<FileEntry> files) throws FormatException {
        record Span(String name, long start, long end) {}
        List<Span> spans = new ArrayList<>();
        entries.forEach(e -> spans.add(new Span(e.name(), e.offset(), e.offset() + e.length())));
        files.forEach(f -> spans.add(new Span(f.name(), f.offset(), f.offset() + f.length())));
        spans.sort(Comparator.comparingLong(Span::start));
        for (int i = 1; i < spans.size(); i++) {
            Span a = spans.get(i - 1);
            Span b = spans.get(i);
            if (b.start() < a.end()) {
                throw new FormatException(path, b.name(), "data overlaps that of '" + a.name() + "'");
            }
        }
    }

    private static long nonNegative(Path path, String name, JsonNode n, String key) throws FormatException {
        JsonNode v = n.get(key);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
            throw new FormatException(path, name, key + " is missing or not a non-negative integer");
        }
        return v.longValue();
    }

    private static long[] longs(Path path, String name, JsonNode n, String key) throws FormatException {
        if (n == null || !n.isArray()) {
            throw new FormatException(path, name, key + " must be a list of non-negative integers");
        }
        long[] out = new long[n.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode x = n.get(i);
            if (!x.isIntegralNumber() || !x.canConvertToLong() || x.longValue() < 0) {
                throw new FormatException(path, name, key + " must be a list of non-negative integers");
            }
            out[i] = x.longValue();
        }
        return out;
    }

    public Path path() {
        return path;
    }

    public List<AricaEntry> entries() {
        return entries;
    }

    public Optional<AricaEntry> entry(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** The stored bytes of a tensor as they are in the file (compressed when compressed): a zero-copy view. */
    public MemorySegment stored(AricaEntry e) {
        return file.asSlice(e.offset(), e.length());
    }

    /** Where a tensor's stored bytes lie in this file. */
    public FileRange location(AricaEntry e) {
        return new FileRange(path, e.offset(), e.length());
    }

    /**
     * The uncompressed stored representation: the mapped view itself when uncompressed, else decompressed
     * into memory of {@code arena}.
     */
    public MemorySegment raw(AricaEntry e, Arena into) throws IOException {
        if (!e.compressed()) {
            return stored(e);
        }
        MemorySegment dst = into.allocate(Math.max(1, e.rawLength()), 64).asSlice(0, e.rawLength());
        long n;
        try {
            n = Zstd.decompressDirectByteBuffer(dst.asByteBuffer(), 0, (int) e.rawLength(),
                    stored(e).asByteBuffer(), 0, (int) e.length());
        } catch (RuntimeException ex) {
            throw new FormatException(path, e.name(), "zstd data is corrupt: " + ex.getMessage());
        }
        if (Zstd.isError(n) || n != e.rawLength()) {
            throw new FormatException(path, e.name(), "zstd data is corrupt"
                    + (Zstd.isError(n) ? ": " + Zstd.getErrorName(n) : " (" + n + " bytes instead of " + e.rawLength() + ")"));
        }
        return dst;
    }

    /**
     * {@link #raw} after checking the stored bytes' CRC32C: what readers that use the values (export, convert)
     * call, so that a corrupt blob is named instead of silently computed with.
     */
    public MemorySegment checked(AricaEntry e, Arena into) throws IOException {
        if (crc(stored(e)) != e.crc32c()) {
            throw new FormatException(path, e.name(), "checksum mismatch: the stored data is corrupt (arica verify "
                    + path.getFileName() + " lists every bad tensor)");
        }
        return raw(e, into);
    }

    /**
     * The column order of a permuted tensor, read from {@code raw} (its uncompressed stored bytes) and checked; empty
     * for any other tensor.
     */
    public Optional<ColumnOrder> columnOrder(AricaEntry e, MemorySegment raw) throws FormatException {
        if (!(e.storage() instanceof Storage.Quantized q) || !q.permuted()) {
            return Optional.empty();
        }
        try {
            long rows = q.rowsBytes(e.shape());
            return Optional.of(ColumnOrder.read(raw.asSlice(rows, raw.byteSize() - rows), e.shape()[1]));
        } catch (IllegalArgumentException ex) {
            throw new FormatException(path, e.name(), ex.getMessage());
        }
    }

    public List<FileEntry> files() {
        return files;
    }

    /** The embedded side files, copied out of the mapping. */
    public List<AuxFile> auxFiles() {
        List<AuxFile> out = new ArrayList<>();
        for (FileEntry f : files) {
            out.add(AuxFile.of(f.name(), file.asSlice(f.offset(), f.length()).toArray(ValueLayout.JAVA_BYTE)));
        }
        return out;
    }

    /** The whole index. */
    public ObjectNode index() {
        return index;
    }

    public Optional<ObjectNode> config() {
        JsonNode c = index.get("config");
        return c instanceof ObjectNode o ? Optional.of(o.deepCopy()) : Optional.empty();
    }

    /** Problems found by {@link #verify()}: empty when the file is sound. */
    public record Problem(String tensor, String what) {}

    /**
     * Recomputes every blob's checksum (and decompresses compressed blobs); returns the first problem, if
     * any, in data order.
     */
    public Optional<Problem> verify(dev.arica.formats.Progress progress) throws IOException {
        long total = 0;
        for (AricaEntry e : entries) {
            total += e.length();
        }
        progress.start("verify", total);
        try {
            for (AricaEntry e : entries) {
                MemorySegment s = stored(e);
                if (crc(s) != e.crc32c()) {
                    return Optional.of(new Problem(e.name(), "checksum mismatch (stored data is corrupt)"));
                }
                if (e.compressed() || e.storage() instanceof Storage.Quantized q && q.permuted()) {
                    try (Arena a = Arena.ofConfined()) {
                        columnOrder(e, raw(e, a));
                    } catch (FormatException ex) {
                        return Optional.of(new Problem(e.name(), ex.problem()));
                    }
                }
                dev.arica.formats.io.MappedMemory.release(s);
                progress.advance(e.length());
            }
            for (FileEntry f : files) {
                if (crc(file.asSlice(f.offset(), f.length())) != f.crc32c()) {
                    return Optional.of(new Problem(f.name(), "checksum mismatch of embedded file"));
                }
            }
        } finally {
            progress.finish();
        }
        return Optional.empty();
    }

    static long crc(MemorySegment s) {
        CRC32C crc = new CRC32C();
        for (long off = 0; off < s.byteSize(); off += 1L << 30) {
            crc.update(s.asSlice(off, Math.min(1L << 30, s.byteSize() - off)).asByteBuffer());
        }
        return crc.getValue();
    }

    @Override
    public void close() {
        arena.close();
    }
}
