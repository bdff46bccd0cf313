package dev.arica.formats.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal GGUF parse for tests, written from gguf.md alone and independent of arica's writer: header, metadata,
 * tensor infos and each tensor's bytes. Values: integers as Long, float32 as Float, float64 as Double, bool as
 * Boolean, strings as String, arrays as List; every value with its type id in {@link Value}. Only the plain and
 * Q8_0/Q4_0 tensor types are sized. The whole file is read into memory: test files are small.
 */
public final class GgufTestFile {

    /** A metadata value and its GGUF type id (for arrays, the element type id too). */
    public record Value(int type, int elementType, Object value) {}

    /** A tensor info: dims as stored (innermost first), type id, offset from the data section, and its bytes. */
    public record TensorInfo(String name, long[] dims, int type, long offset, byte[] data) {
        /** The shape outermost first, as arica names shapes. */
        public long[] shape() {
            long[] s = new long[dims.length];
            for (int i = 0; i < dims.length; i++) {
                s[i] = dims[dims.length - 1 - i];
            }
            return s;
        }

        @Override
        public String toString() {
            return name + " type " + type + " " + Arrays.toString(dims);
        }
    }

    private final int version;
    private final Map<String, Value> metadata;
    private final Map<String, TensorInfo> tensors;
    private final long dataStart;
    private final long fileBytes;

    private GgufTestFile(int version, Map<String, Value> metadata, Map<String, TensorInfo> tensors, long dataStart,
            long fileBytes) {
        this.version = version;
        this.metadata = metadata;
        this.tensors = tensors;
        this.dataStart = dataStart;
        this.fileBytes = fileBytes;
    }

    public static GgufTestFile read(Path file) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        if (b.getInt() != 0x46554747) {
            throw new IOException(file + ": not GGUF");
        }
        int version = b.getInt();
        long nTensors = b.getLong();
        long nKv = b.getLong();
        Map<String, Value> kv = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            String key = string(b);
            int type = b.getInt();
            int element = type == 9 ? b.getInt(b.position()) : -1;
            kv.put(key, new Value(type, element, value(b, type)));
        }
        List<Object[]> infos = new ArrayList<>();
        for (long i = 0; i < nTensors; i++) {
            String name = string(b);
            long[] dims = new long[b.getInt()];
            for (int d = 0; d < dims.length; d++) {
                dims[d] = b.getLong();
            }
            infos.add(new Object[] {name, dims, b.getInt(), b.getLong()});
        }
        long alignment = kv.containsKey("general.alignment") ? (Long) kv.get("general.alignment").value() : 32;
        long dataStart = (b.position() + alignment - 1) / alignment * alignment;
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        for (Object[] t : infos) {
            long[] dims = (long[]) t[1];
            int type = (Integer) t[2];
            long offset = (Long) t[3];
            long n = 1;
            for (long d : dims) {
                n *= d;
            }
            long bytes = switch (type) {
                case 0 -> 4 * n;
                case 1, 30 -> 2 * n;
                case 8 -> n / 32 * 34;
                case 2 -> n / 32 * 18;
                default -> throw new IOException(file + ": tensor type " + type + " is not sized by this test parse");
            };
            byte[] data = new byte[Math.toIntExact(bytes)];
            b.get(Math.toIntExact(dataStart + offset), data);
            tensors.put((String) t[0], new TensorInfo((String) t[0], dims, type, offset, data));
        }
        return new GgufTestFile(version, kv, tensors, dataStart, b.capacity());
    }

    private static String string(ByteBuffer b) {
        byte[] s = new byte[Math.toIntExact(b.getLong())];
        b.get(s);
        return new String(s, StandardCharsets.UTF_8);
    }

    private static Object value(ByteBuffer b, int type) throws IOException {
        return switch (type) {
            case 0 -> (long) (b.get() & 0xff);
            case 1 -> (long) b.get();
            case 2 -> (long) (b.getShort() & 0xffff);
            case 3 -> (long) b.getShort();
            case 4 -> b.getInt() & 0xffff_ffffL;
            case 5 -> (long) b.getInt();
            case 6 -> b.getFloat();
            case 7 -> b.get() != 0;
            case 8 -> string(b);
            case 9 -> {
                int element = b.getInt();
                long n = b.getLong();
                List<Object> list = new ArrayList<>();
                for (long i = 0; i < n; i++) {
                    list.add(value(b, element));
                }
                yield list;
            }
            case 10, 11 -> b.getLong();
            case 12 -> b.getDouble();
            default -> throw new IOException("unknown metadata type " + type);
        };
    }

    public int version() {
        return version;
    }

    public Map<String, Value> metadata() {
        return metadata;
    }

    public Object get(String key) {
        Value v = metadata.get(key);
        return v == null ? null : v.value();
    }

    public Map<String, TensorInfo> tensors() {
        return tensors;
    }

    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new IllegalArgumentException("no tensor " + name + " in " + tensors.keySet());
        }
        return t;
    }

    public long dataStart() {
        return dataStart;
    }

    public long fileBytes() {
        return fileBytes;
    }
}
