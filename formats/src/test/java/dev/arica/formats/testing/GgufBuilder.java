package dev.arica.formats.testing;

import dev.arica.formats.gguf.Gguf;
import dev.arica.formats.gguf.GgufValueType;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * GGUF files assembled by hand for tests, byte by byte from gguf.md and independent of arica's reader: metadata,
 * tensor infos and data, with every count, length and offset overridable so that a test can make the header lie.
 */
public final class GgufBuilder {
    private int magic = Gguf.MAGIC;
    private int version = 3;
    private Long tensorCount;
    private Long kvCount;
    private int alignment = Gguf.DEFAULT_ALIGNMENT;
    private final ByteArrayOutputStream kv = new ByteArrayOutputStream();
    private int kvs;
    private final List<Tensor> tensors = new ArrayList<>();
    private long sparseDataBytes = -1;

    /** A tensor info and, unless {@code offset} is given, its data placed after the previous one's, aligned. */
    private record Tensor(String name, int type, long[] dims, Long offset, byte[] data) {}

    public GgufBuilder magic(int m) {
        magic = m;
        return this;
    }

    public GgufBuilder version(int v) {
        version = v;
        return this;
    }

    /** Header counts that differ from what follows. */
    public GgufBuilder counts(Long tensors, Long kvs) {
        tensorCount = tensors;
        kvCount = kvs;
        return this;
    }

    /** The alignment the data is laid out with; say it with {@code u32("general.alignment", a)} too. */
    public GgufBuilder alignment(int a) {
        alignment = a;
        return this;
    }

    public static byte[] u32(long v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array();
    }

    public static byte[] u64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    /** A GGUF string: uint64 length, UTF-8 bytes. */
    public static byte[] str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return concat(u64(b.length), b);
    }

    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** One metadata entry: key, value type, the value's bytes as given. */
    public GgufBuilder raw(String key, int type, byte[] value) {
        kv.writeBytes(concat(str(key), u32(type), value));
        kvs++;
        return this;
    }

    /** Bytes appended to the metadata as they are, counted as one entry. */
    public GgufBuilder rawEntry(byte[] bytes) {
        kv.writeBytes(bytes);
        kvs++;
        return this;
    }

    public GgufBuilder string(String key, String value) {
        return raw(key, GgufValueType.STRING.id(), str(value));
    }

    public GgufBuilder u32(String key, long value) {
        return raw(key, GgufValueType.UINT32.id(), u32(value));
    }

    public GgufBuilder i32(String key, int value) {
        return raw(key, GgufValueType.INT32.id(), u32(value));
    }

    public GgufBuilder f32(String key, float value) {
        return raw(key, GgufValueType.FLOAT32.id(), u32(Float.floatToRawIntBits(value)));
    }

    public GgufBuilder bool(String key, boolean value) {
        return raw(key, GgufValueType.BOOL.id(), new byte[] {(byte) (value ? 1 : 0)});
    }

    public GgufBuilder strings(String key, List<String> values) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(concat(u32(GgufValueType.STRING.id()), u64(values.size())));
        values.forEach(v -> b.writeBytes(str(v)));
        return raw(key, GgufValueType.ARRAY.id(), b.toByteArray());
    }

    public GgufBuilder floats(String key, float... values) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(concat(u32(GgufValueType.FLOAT32.id()), u64(values.length)));
        for (float v : values) {
            b.writeBytes(u32(Float.floatToRawIntBits(v)));
        }
        return raw(key, GgufValueType.ARRAY.id(), b.toByteArray());
    }

    public GgufBuilder ints(String key, int... values) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(concat(u32(GgufValueType.INT32.id()), u64(values.length)));
        for (int v : values) {
            b.writeBytes(u32(v));
        }
        return raw(key, GgufValueType.ARRAY.id(), b.toByteArray());
    }

    /** A tensor with its data, dims in GGML order (row length first). */
    public GgufBuilder tensor(String name, int type, long[] dims, byte[] data) {
        tensors.add(new Tensor(name, type, dims, null, data));
        return this;
    }

    /** A tensor info with this offset and no data of its own. */
    public GgufBuilder tensorAt(String name, int type, long[] dims, long offset) {
        tensors.add(new Tensor(name, type, dims, offset, new byte[0]));
        return this;
    }

    /** An F32 tensor of these values. */
    public GgufBuilder f32Tensor(String name, long[] dims, float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            b.putFloat(v);
        }
        return tensor(name, 0, dims, b.array());
    }

    /** Writes no data but makes the data section this long with a sparse file ({@link #writeSparse}). */
    public GgufBuilder sparseData(long bytes) {
        sparseDataBytes = bytes;
        return this;
    }

    /** Header, metadata and tensor infos, padded to the alignment; then the data when {@code withData}. */
    private byte[] bytes(boolean withData) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(u32(magic));
        out.writeBytes(u32(version));
        out.writeBytes(u64(tensorCount != null ? tensorCount : tensors.size()));
        out.writeBytes(u64(kvCount != null ? kvCount : kvs));
        out.writeBytes(kv.toByteArray());
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Tensor t : tensors) {
            long offset;
            if (t.offset() != null) {
                offset = t.offset();
            } else {
                while (data.size() % alignment != 0) {
                    data.write(0);
                }
                offset = data.size();
                data.writeBytes(t.data());
            }
            out.writeBytes(str(t.name()));
            out.writeBytes(u32(t.dims().length));
            for (long d : t.dims()) {
                out.writeBytes(u64(d));
            }
            out.writeBytes(u32(t.type()));
            out.writeBytes(u64(offset));
        }
        while (out.size() % alignment != 0) {
            out.write(0);
        }
        if (withData) {
            out.writeBytes(data.toByteArray());
        }
        return out.toByteArray();
    }

    public byte[] bytes() {
        return bytes(true);
    }

    public Path write(Path file) throws IOException {
        Files.write(file, bytes());
        return file;
    }

    /** The header and a data section of {@link #sparseData} bytes that take no disk space. */
    public Path writeSparse(Path file) throws IOException {
        byte[] header = bytes(false);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.write(header);
            f.setLength(header.length + sparseDataBytes);
        }
        return file;
    }
}
