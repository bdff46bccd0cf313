package dev.arica.formats.gguf;

import dev.arica.formats.FormatException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * A GGUF file (versions 2 and 3, little-endian) as it is stored, mapped once: header, metadata, tensor infos and the
 * data section, whose tensors are zero-copy slices of the mapping. Everything the header claims is checked against
 * the file before use: counts and lengths against the bytes left, every tensor's type, shape, alignment and extent,
 * and that no two tensors overlap. Each failure is one line naming the file (and the tensor or key).
 */
public final class GgufFile implements AutoCloseable {
    /** The fewest bytes a metadata entry takes: key length, a one-byte key, value type, a one-byte value. */
    private static final long MIN_KV_BYTES = 8 + 1 + 4 + 1;
    /** The fewest bytes a tensor info takes: name length, a one-byte name, dimension count, type, offset. */
    private static final long MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 4 + 8;
    /** The largest alignment accepted: a lying one must not move the data section out of the file unnoticed. */
    private static final long MAX_ALIGNMENT = 1L << 30;

    private final Path path;
    private final Arena arena;
    private final int version;
    private final GgufMetadata metadata;
    private final List<GgufTensor> tensors;
    private final long alignment;
    private final long dataOffset;
    private final MemorySegment data;

    private GgufFile(Path path, Arena arena, int version, GgufMetadata metadata, List<GgufTensor> tensors,
            long alignment, long dataOffset, MemorySegment data) {
        this.path = path;
        this.arena = arena;
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.alignment = alignment;
        this.dataOffset = dataOffset;
        this.data = data;
    }

    /** True when the file starts with the GGUF magic. */
    public static boolean looksLikeGguf(Path path) throws IOException {
        try (InputStream in = Files.newInputStream(path)) {
            byte[] head = in.readNBytes(4);
            return head.length == 4 && head[0] == 'G' && head[1] == 'G' && head[2] == 'U' && head[3] == 'F';
        }
    }

    public static GgufFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment all = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            return read(path, arena, all);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static GgufFile read(Path path, Arena arena, MemorySegment all) throws FormatException {
        GgufCursor c = new GgufCursor(path, all, 0);
        if (all.byteSize() < 4 || c.u32("the magic") != Gguf.MAGIC) {
            throw new FormatException(path, "not a GGUF file: it does not start with the magic 'GGUF'");
        }
        int version = c.u32("the version");
        if (Integer.reverseBytes(version) >= Gguf.MIN_VERSION && Integer.reverseBytes(version) <= Gguf.MAX_VERSION) {
            throw new FormatException(path, "a big-endian GGUF file (version " + Integer.reverseBytes(version)
                    + "); arica reads little-endian GGUF only");
        }
        if (version < Gguf.MIN_VERSION || version > Gguf.MAX_VERSION) {
            throw new FormatException(path, "GGUF version " + Integer.toUnsignedString(version)
                    + " is not supported (arica reads versions " + Gguf.MIN_VERSION + " and " + Gguf.MAX_VERSION + ")");
        }
        long tensorCount = c.u64("the tensor count");
        long kvCount = c.u64("the metadata count");
        if (kvCount < 0 || kvCount > c.remaining() / MIN_KV_BYTES) {
            throw new FormatException(path, "the header claims " + Long.toUnsignedString(kvCount)
                    + " metadata entries, more than the " + c.remaining() + " bytes after it can hold");
        }
        if (tensorCount < 0 || tensorCount > c.remaining() / MIN_TENSOR_INFO_BYTES) {
            throw new FormatException(path, "the header claims " + Long.toUnsignedString(tensorCount)
                    + " tensors, more than the " + c.remaining() + " bytes after it can describe");
        }
        LinkedHashMap<String, GgufValue> kv = new LinkedHashMap<>();
        for (long i = 0; i < kvCount; i++) {
            String key = c.string("metadata key " + i);
            int typeId = c.u32("the value type of metadata '" + key + "'");
            GgufValueType type = GgufValueType.of(typeId & 0xffffffffL).orElseThrow(() -> new FormatException(path,
                    "metadata '" + key + "' has unknown value type " + Integer.toUnsignedString(typeId)));
            GgufValue value = c.value(key, type, 0);
            if (kv.putIfAbsent(key, value) != null) {
                throw new FormatException(path, "metadata '" + key + "' appears twice");
            }
        }
        GgufMetadata metadata = new GgufMetadata(path, kv);
        long alignment = alignment(path, metadata);
        // Not sized by the claimed count: each info is read (and bounded by the bytes left) before it is kept.
        List<GgufTensor> tensors = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (long i = 0; i < tensorCount; i++) {
            GgufTensor t = tensorInfo(path, c, i);
            if (!names.add(t.name())) {
                throw new FormatException(path, t.name(), "appears twice among the tensor infos");
            }
            tensors.add(t);
        }
        long dataOffset = Gguf.align(c.position(), alignment);
        long size = all.byteSize();
        if (dataOffset > size && !tensors.isEmpty()) {
            throw new FormatException(path, "the data section would start at byte " + dataOffset + ", past the end of the "
                    + size + "-byte file");
        }
        long dataBytes = Math.max(0, size - dataOffset);
        checkExtents(path, tensors, alignment, dataBytes);
        MemorySegment data = dataBytes == 0 ? MemorySegment.NULL : all.asSlice(dataOffset, dataBytes);
        return new GgufFile(path, arena, version, metadata, List.copyOf(tensors), alignment, dataOffset, data);
    }

    /** general.alignment: an integer, a power of two; the default when absent. */
    private static long alignment(Path path, GgufMetadata metadata) throws FormatException {
        java.util.OptionalLong a = metadata.integer(GgufKeys.ALIGNMENT);
        if (a.isEmpty()) {
            return Gguf.DEFAULT_ALIGNMENT;
        }
        long v = a.getAsLong();
        if (v <= 0 || v > MAX_ALIGNMENT || Long.bitCount(v) != 1) {
            throw new FormatException(path, "metadata '" + GgufKeys.ALIGNMENT + "' is " + v
                    + ", not a power of two up to 2^30");
        }
        return v;
    }

    private static GgufTensor tensorInfo(Path path, GgufCursor c, long i) throws FormatException {
        String name = c.string("the name of tensor " + i);
        int nDims = c.u32("the dimension count of tensor '" + name + "'");
        if (nDims < 0 || nDims > Gguf.MAX_DIMS) {
            throw new FormatException(path, name, "has " + Integer.toUnsignedString(nDims) + " dimensions; GGML has at most "
                    + Gguf.MAX_DIMS);
        }
        long[] dims = new long[nDims];
        long elements = 1;
        for (int d = 0; d < nDims; d++) {
            dims[d] = c.u64("the dimensions of tensor '" + name + "'");
            if (dims[d] < 0) {
                throw new FormatException(path, name, "has dimension " + Long.toUnsignedString(dims[d]) + ", too large");
            }
            try {
                elements = Math.multiplyExact(elements, dims[d]);
            } catch (ArithmeticException e) {
                throw new FormatException(path, name, "has dimensions " + dimsString(dims, d + 1)
                        + " whose product overflows 64 bits");
            }
        }
        int typeId = c.u32("the type of tensor '" + name + "'");
        GgmlType type = GgmlType.of(typeId & 0xffffffffL).orElseThrow(() -> new FormatException(path, name,
                "has GGML type " + Integer.toUnsignedString(typeId) + ", which GGML does not define"));
        long offset = c.u64("the offset of tensor '" + name + "'");
        long rowLength = nDims == 0 ? 1 : dims[0];
        if (!type.fitsRow(rowLength)) {
            throw new FormatException(path, name, "is " + type + " with rows of " + rowLength
                    + " values, not whole blocks of " + type.blockValues());
        }
        long bytes;
        try {
            bytes = type.bytes(elements);
        } catch (ArithmeticException e) {
            throw new FormatException(path, name, "has " + elements + " " + type + " values, more bytes than 64 bits count");
        }
        if (offset < 0) {
            throw new FormatException(path, name, "has offset " + Long.toUnsignedString(offset) + ", past any file's end");
        }
        return new GgufTensor(name, type, dims, offset, bytes);
    }

    /** Every tensor aligned, inside the data section, and apart from the others. */
    private static void checkExtents(Path path, List<GgufTensor> tensors, long alignment, long dataBytes)
            throws FormatException {
        for (GgufTensor t : tensors) {
            if (t.offset() % alignment != 0) {
                throw new FormatException(path, t.name(), "starts at offset " + t.offset()
                        + " of the data section, not a multiple of the alignment " + alignment);
            }
            if (t.bytes() > dataBytes || t.offset() > dataBytes - t.bytes()) {
                throw new FormatException(path, t.name(), "needs bytes " + t.offset() + " to " + (t.offset() + t.bytes())
                        + " of the data section, which has " + dataBytes + " (" + t.type() + " " + dimsString(t.dims(),
                        t.dims().length) + ")");
            }
        }
        List<GgufTensor> byOffset = new ArrayList<>(tensors);
        byOffset.sort(Comparator.comparingLong(GgufTensor::offset));
        for (int i = 1; i < byOffset.size(); i++) {
            GgufTensor a = byOffset.get(i - 1), b = byOffset.get(i);
            if (a.offset() + a.bytes() > b.offset() && a.bytes() > 0 && b.bytes() > 0) {
                throw new FormatException(path, b.name(), "overlaps tensor '" + a.name() + "' in the data section (bytes "
                        + b.offset() + " and " + a.offset() + " to " + (a.offset() + a.bytes()) + ")");
            }
        }
    }

    private static String dimsString(long[] dims, int n) {
        StringBuilder b = new StringBuilder("[");
        for (int i = 0; i < n; i++) {
            b.append(i == 0 ? "" : ", ").append(Long.toUnsignedString(dims[i]));
        }
        return b.append(']').toString();
    }

    public Path path() {
        return path;
    }

    public int version() {
        return version;
    }

    public GgufMetadata metadata() {
        return metadata;
    }

    /** The tensor infos in file order. */
    public List<GgufTensor> tensors() {
        return tensors;
    }

    /** general.alignment, or the default 32. */
    public long alignment() {
        return alignment;
    }

    /** Where the data section starts in the file. */
    public long dataOffset() {
        return dataOffset;
    }

    /** The stored bytes of {@code t}, a view of the mapping. */
    public MemorySegment data(GgufTensor t) {
        return t.bytes() == 0 ? MemorySegment.NULL : data.asSlice(t.offset(), t.bytes());
    }

    /** The architecture ({@code general.architecture}), or "" when the file does not say. */
    public String architecture() throws FormatException {
        return metadata.string(GgufKeys.ARCHITECTURE).orElse("");
    }

    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "GGUF v%d %s: %d tensors, %d metadata", version, path, tensors.size(),
                metadata.values().size());
    }
}
