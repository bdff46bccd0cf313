package dev.arica.formats.safetensors;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.MappedCheckpoint;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorIndex;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A safetensors file, mapped once. The header is validated as the reference implementation does; every
 * tensor is then a zero-copy slice of the mapping.
 */
public final class SafetensorsFile extends MappedCheckpoint {

    /** The reference implementation's limit on the JSON header. */
    public static final long MAX_HEADER_BYTES = 100_000_000L;

    static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Map<String, String> metadata;
    private final long headerBytes;

    private SafetensorsFile(Arena arena, TensorIndex index, Header header) {
        super(arena, index);
        this.metadata = header.metadata;
        this.headerBytes = header.length;
    }

    public static SafetensorsFile open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            Header header = readHeader(path, ch, size);
            MemorySegment data = size == 0 ? MemorySegment.NULL
                    : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena).asSlice(8 + header.length);
            TensorIndex.Builder index = TensorIndex.builder(path);
            for (TensorInfo t : header.tensors) {
                long offset = header.offsets.get(t.name());
                index.add(Tensor.of(t, data.asSlice(offset, t.byteSize())), 8 + header.length + offset);
            }
            return new SafetensorsFile(arena, index.build(), header);
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** True when the file starts like a safetensors file: a plausible header length and a '{'. */
    public static boolean looksLikeSafetensors(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(9).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining() && ch.read(b) > 0) { /* fill */ }
            if (b.position() < 9) {
                return false;
            }
            long n = b.getLong(0);
            return n > 0 && n <= MAX_HEADER_BYTES && n + 8 <= ch.size() && b.get(8) == '{';
        }
    }

    record Header(long length, List<TensorInfo> tensors, Map<String, Long> offsets, Map<String, String> metadata) {}

    private static Header readHeader(Path path, FileChannel ch, long size) throws IOException {
        if (size < 8) {
            throw new FormatException(path, "file is " + size + " bytes long, shorter than the 8-byte header length");
        }
        ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, lenBuf, 0);
        long n = lenBuf.getLong(0);
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new FormatException(path, "header length " + Long.toUnsignedString(n) + " exceeds the limit of "
                    + MAX_HEADER_BYTES + " bytes");
        }
        if (n > size - 8) {
            throw new FormatException(path, "header length " + n + " runs past the end of the file ("
                    + size + " bytes)");
        }
        ByteBuffer hb = ByteBuffer.allocate((int) n);
        readFully(ch, hb, 8);
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(hb.flip()).toString();
        } catch (CharacterCodingException e) {
            throw new FormatException(path, "header is not valid UTF-8");
        }
        JsonNode root = Json.parse(path, text.getBytes(StandardCharsets.UTF_8), "header");
        if (!(root instanceof ObjectNode obj)) {
            throw new FormatException(path, "header is not a JSON object");
        }
        return parseHeader(path, obj, n, size - 8 - n);
    }

    private static Header parseHeader(Path path, ObjectNode obj, long headerLength, long dataLength)
            throws FormatException {
        Map<String, String> metadata = new LinkedHashMap<>();
        List<TensorInfo> infos = new ArrayList<>();
        Map<String, long[]> spans = new HashMap<>();
        for (Map.Entry<String, JsonNode> e : obj.properties()) {
            String name = e.getKey();
            JsonNode v = e.getValue();
            if (name.equals("__metadata__")) {
                if (!v.isObject()) {
                    throw new FormatException(path, "__metadata__ is not a string-to-string map");
                }
                for (Map.Entry<String, JsonNode> m : v.properties()) {
                    if (!m.getValue().isTextual()) {
                        throw new FormatException(path, "__metadata__ is not a string-to-string map: value of '"
                                + m.getKey() + "' is " + m.getValue().getNodeType().toString().toLowerCase());
                    }
                    metadata.put(m.getKey(), m.getValue().textValue());
                }
                continue;
            }
            if (!v.isObject()) {
                throw new FormatException(path, name, "entry is not an object");
            }
            JsonNode dt = v.get("dtype");
            if (dt == null || !dt.isTextual()) {
                throw new FormatException(path, name, "dtype is missing or not a string");
            }
            DType dtype = DType.fromSafetensorsName(dt.textValue()).orElseThrow(() -> new FormatException(
                    path, name, "unknown dtype '" + dt.textValue() + "'"));
            long[] shape = nonNegativeLongs(path, name, v.get("shape"), -1, "shape");
            long[] off = nonNegativeLongs(path, name, v.get("data_offsets"), 2, "data_offsets");
            if (off[1] < off[0]) {
                throw new FormatException(path, name, "data_offsets [" + off[0] + ", " + off[1] + "] end before they begin");
            }
            long expected;
            try {
                expected = dtype.bytesFor(TensorInfo.elements(shape));
            } catch (ArithmeticException ex) {
                throw new FormatException(path, name, "shape " + java.util.Arrays.toString(shape) + " is too large");
            }
            if (off[1] - off[0] != expected) {
                throw new FormatException(path, name, "holds " + (off[1] - off[0]) + " bytes but shape "
                        + java.util.Arrays.toString(shape) + " of " + dtype + " needs " + expected);
            }
            infos.add(new TensorInfo(name, dtype, shape));
            spans.put(name, off);
        }
        infos.sort(Comparator.<TensorInfo>comparingLong(t -> spans.get(t.name())[0])
                .thenComparingLong(t -> spans.get(t.name())[1]));
        long cursor = 0;
        Map<String, Long> offsets = new HashMap<>();
        for (TensorInfo t : infos) {
            long[] s = spans.get(t.name());
            if (s[0] > cursor) {
                throw new FormatException(path, t.name(), "data starts at " + s[0] + ", leaving a gap of "
                        + (s[0] - cursor) + " bytes " + (cursor == 0 ? "at the start of the data section (offsets must start at 0)"
                        : "after the previous tensor"));
            }
            if (s[0] < cursor) {
                throw new FormatException(path, t.name(), "data [" + s[0] + ", " + s[1]
                        + ") overlaps the previous tensor, which ends at " + cursor);
            }
            if (s[1] > dataLength) {
                throw new FormatException(path, t.name(), "data ends at " + s[1] + ", past the end of the "
                        + dataLength + "-byte data section");
            }
            offsets.put(t.name(), s[0]);
            cursor = s[1];
        }
        if (cursor != dataLength) {
            throw new FormatException(path, (dataLength - cursor) + " bytes left after the last tensor (data section is "
                    + dataLength + " bytes, tensors end at " + cursor + ")");
        }
        return new Header(headerLength, Collections.unmodifiableList(infos), offsets,
                Collections.unmodifiableMap(metadata));
    }

    private static long[] nonNegativeLongs(Path path, String tensor, JsonNode node, int length, String what)
            throws FormatException {
        String rule = what + " must be a list of " + (length > 0 ? length + " " : "") + "non-negative integers";
        if (node == null || !node.isArray() || (length >= 0 && node.size() != length)) {
            throw new FormatException(path, tensor, rule);
        }
        long[] out = new long[node.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode x = node.get(i);
            if (!x.isIntegralNumber() || !x.canConvertToLong() || x.longValue() < 0) {
                throw new FormatException(path, tensor, rule + ", found " + x);
            }
            out[i] = x.longValue();
        }
        return out;
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
        long pos = position;
        while (b.hasRemaining()) {
            int r = ch.read(b, pos);
            if (r < 0) {
                throw new java.io.EOFException("unexpected end of file");
            }
            pos += r;
        }
    }

    @Override
    public String format() {
        return "safetensors";
    }

    /** Offset of the named tensor inside the data section. */
    public long dataOffset(String name) {
        // Every tensor of a safetensors file has its range: only an unknown name has none.
        FileRange r = index().location(name).orElseThrow(() -> TensorIndex.noTensor(name, path()));
        return r.offset() - 8 - headerBytes;
    }

    public Optional<TensorInfo> info(String name) {
        return index().info(name);
    }

    /** Bytes of the JSON header (padding included). */
    public long headerBytes() {
        return headerBytes;
    }

    @Override
    public Map<String, String> metadata() {
        return metadata;
    }
}
