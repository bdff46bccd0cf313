package dev.arica.formats.testing;

import dev.arica.formats.testing.PickleWriter.Global;
import dev.arica.formats.testing.PickleWriter.PersistentId;
import dev.arica.formats.testing.PickleWriter.Reduce;
import dev.arica.formats.testing.PickleWriter.Tup;
import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CRC32;

/**
 * Writes state dicts byte for byte as torch.save does (PyTorch 2.1 to 2.4, pickle protocol 2), without PyTorch: the
 * pickle its {@code _save} produces (a tensor reduces to {@code torch._utils._rebuild_tensor_v2(storage, offset,
 * size, stride, False, OrderedDict())}, a storage to the persistent id {@code ('storage', torch.FloatStorage, key,
 * 'cpu', numel)}, keys "0", "1"... in the order storages are met), in the zip archive that PyTorchStreamWriter writes
 * through miniz ({@code <archive>/data.pkl}, {@code byteorder}, {@code data/<key>} in sorted key order,
 * {@code version} "3\n", {@code .data/serialization_id}; data 64-byte aligned by an "FB" extra field; data
 * descriptors; zip64 end records), or in the legacy format of {@code _use_new_zipfile_serialization=False}.
 */
public final class TorchSave {

    /** PyTorch's typed storages, with their element sizes. */
    public enum StorageType {
        DOUBLE("DoubleStorage", 8), FLOAT("FloatStorage", 4), HALF("HalfStorage", 2), BFLOAT16("BFloat16Storage", 2),
        LONG("LongStorage", 8), INT("IntStorage", 4), SHORT("ShortStorage", 2), CHAR("CharStorage", 1),
        BYTE("ByteStorage", 1), BOOL("BoolStorage", 1);

        public final String className;
        public final int itemSize;

        StorageType(String className, int itemSize) {
            this.className = className;
            this.itemSize = itemSize;
        }
    }

    /** Typed bytes that tensors view; one storage may back several tensors. */
    public static final class Storage {
        final StorageType type;
        final byte[] data;

        Storage(StorageType type, byte[] data) {
            if (data.length % type.itemSize != 0) {
                throw new IllegalArgumentException(data.length + " bytes are not whole " + type);
            }
            this.type = type;
            this.data = data.clone();
        }

        long numel() {
            return data.length / type.itemSize;
        }
    }

    private record View(Storage storage, long offset, long[] size, long[] stride) {}

    static final Global ORDERED_DICT = new Global("collections", "OrderedDict");
    static final Global REBUILD_TENSOR_V2 = new Global("torch._utils", "_rebuild_tensor_v2");
    /** The literals of torch's persistent_id: one object each, so that the pickler memoizes them. */
    private static final String STORAGE = "storage";
    private static final String CPU = "cpu";
    private static final long LEGACY_KEY_BASE = 94_000_000_000_000L;
    private static final int ALIGNMENT = 64;
    /** 2024-01-01 00:00 as MS-DOS date and time. */
    private static final int DOS_DATE = (44 << 9) | (1 << 5) | 1;

    private final Map<String, View> tensors = new LinkedHashMap<>();
    private boolean moduleStateDict;

    /** A storage of {@code type} holding {@code data} (little-endian elements). */
    public Storage storage(StorageType type, byte[] data) {
        return new Storage(type, data);
    }

    /** A contiguous tensor of {@code size} viewing {@code storage} from element {@code offset}. */
    public TorchSave tensor(String name, Storage storage, long offset, long... size) {
        long[] stride = new long[size.length];
        long s = 1;
        for (int i = size.length - 1; i >= 0; i--) {
            stride[i] = s;
            s *= size[i];
        }
        return view(name, storage, offset, size, stride);
    }

    /** A tensor with explicit strides (a transposed view, say). */
    public TorchSave view(String name, Storage storage, long offset, long[] size, long[] stride) {
        tensors.put(name, new View(storage, offset, size.clone(), stride.clone()));
        return this;
    }

    /** A tensor with a storage of its own holding exactly its bytes. */
    public TorchSave tensor(String name, StorageType type, byte[] data, long... size) {
        return tensor(name, storage(type, data), 0, size);
    }

    /**
     * Saves an OrderedDict carrying {@code _metadata}, as torch.save(model.state_dict()) does, instead of the plain
     * dict transformers' shards and PEFT adapters save.
     */
    public TorchSave moduleStateDict() {
        moduleStateDict = true;
        return this;
    }

    // ---- pickles ----

    /** The storages in the order the pickler meets them, with the key torch gives each. */
    private Map<Storage, String> keys(boolean legacy) {
        Map<Storage, String> keys = new IdentityHashMap<>();
        for (View v : tensors.values()) {
            if (!keys.containsKey(v.storage())) {
                long n = keys.size();
                keys.put(v.storage(), String.valueOf(legacy ? LEGACY_KEY_BASE + 16 * n : n));
            }
        }
        return keys;
    }

    private Object stateDict(Map<Storage, String> keys, boolean legacy) {
        Map<String, Object> items = new LinkedHashMap<>();
        for (Map.Entry<String, View> e : tensors.entrySet()) {
            View v = e.getValue();
            Global type = new Global("torch", v.storage().type.className);
            Tup pid = legacy ? new Tup(STORAGE, type, keys.get(v.storage()), CPU, v.storage().numel(), null)
                    : new Tup(STORAGE, type, keys.get(v.storage()), CPU, v.storage().numel());
            Tup args = new Tup(new PersistentId(pid), v.offset(), longs(v.size()), longs(v.stride()), false,
                    new Reduce(ORDERED_DICT, new Tup(), Map.of(), null));
            items.put(e.getKey(), new Reduce(REBUILD_TENSOR_V2, args, null, null));
        }
        if (!moduleStateDict) {
            return items;
        }
        Map<String, Object> version = new LinkedHashMap<>();
        version.put("version", 1);
        Map<String, Object> metadata = new LinkedHashMap<>();
        metadata.put("", version);
        Map<String, Object> state = new LinkedHashMap<>();
        state.put("_metadata", new Reduce(ORDERED_DICT, new Tup(), metadata, null));
        return new Reduce(ORDERED_DICT, new Tup(), items, state);
    }

    private static Tup longs(long[] v) {
        Object[] o = new Object[v.length];
        for (int i = 0; i < v.length; i++) {
            o[i] = v[i];
        }
        return new Tup(o);
    }

    /** The {@code data.pkl} torch.save writes in its zip archive. */
    public byte[] dataPkl() {
        return PickleWriter.dump(stateDict(keys(false), false));
    }

    // ---- the zip archive ----

    /** The file torch.save writes; {@code archive} is the folder (the file's name without extension, or "archive"). */
    public byte[] zip(String archive) {
        Map<Storage, String> keys = keys(false);
        Map<String, byte[]> data = new LinkedHashMap<>();
        keys.forEach((s, k) -> data.put(k, s.data));
        return zip(archive, dataPkl(), data);
    }

    /** A torch.save archive around any {@code data.pkl} and storages by key, for pickles no pickler would write. */
    public static byte[] zip(String archive, byte[] dataPkl, Map<String, byte[]> storages) {
        return zip(archive, dataPkl, storages, "little");
    }

    /** The same with another byteorder record, or none when {@code byteOrder} is null (before PyTorch 1.13). */
    public static byte[] zip(String archive, byte[] dataPkl, Map<String, byte[]> storages, String byteOrder) {
        ZipWriter z = new ZipWriter(archive + "/");
        z.record("data.pkl", dataPkl);
        if (byteOrder != null) {
            z.record("byteorder", byteOrder.getBytes(StandardCharsets.US_ASCII));
        }
        new TreeMap<>(storages).forEach((k, v) -> z.record("data/" + k, v));
        z.record("version", "3\n".getBytes(StandardCharsets.US_ASCII));
        z.record(".data/serialization_id", "0".repeat(40).getBytes(StandardCharsets.US_ASCII));
        return z.finish();
    }

    /** PyTorchStreamWriter's records through miniz's writer: stored, aligned, then the central directory. */
    private static final class ZipWriter {
        private final String folder;
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final ByteArrayOutputStream central = new ByteArrayOutputStream();
        private int count;

        ZipWriter(String folder) {
            this.folder = folder;
        }

        void record(String name, byte[] data) {
            byte[] fullName = (folder + name).getBytes(StandardCharsets.UTF_8);
            long offset = out.size();
            long start = offset + 30 + fullName.length + 4;
            int padding = (int) ((ALIGNMENT - start % ALIGNMENT) % ALIGNMENT);
            CRC32 crc = new CRC32();
            crc.update(data);
            int flags = 0x0800 | (data.length > 0 ? 0x0008 : 0);
            ByteBuffer local = le(30 + fullName.length + 4 + padding);
            local.putInt(0x04034b50).putShort((short) 0).putShort((short) flags).putShort((short) 0).putShort((short) 0)
                    .putShort((short) DOS_DATE).putInt(0).putInt(0).putInt(0).putShort((short) fullName.length)
                    .putShort((short) (4 + padding)).put(fullName).put((byte) 'F').put((byte) 'B').putShort((short) padding);
            for (int i = 0; i < padding; i++) {
                local.put((byte) 'Z');
            }
            out.writeBytes(local.array());
            out.writeBytes(data);
            if (data.length > 0) {
                out.writeBytes(le(16).putInt(0x08074b50).putInt((int) crc.getValue()).putInt(data.length)
                        .putInt(data.length).array());
            }
            ByteBuffer c = le(46 + fullName.length);
            c.putInt(0x02014b50).putShort((short) 0).putShort((short) 0).putShort((short) flags).putShort((short) 0)
                    .putShort((short) 0).putShort((short) DOS_DATE).putInt((int) crc.getValue()).putInt(data.length)
                    .putInt(data.length).putShort((short) fullName.length).putShort((short) 0).putShort((short) 0)
                    .putShort((short) 0).putShort((short) 0).putInt(0).putInt((int) offset).put(fullName);
            central.writeBytes(c.array());
            count++;
        }

        byte[] finish() {
            long cdOffset = out.size();
            long cdSize = central.size();
            out.writeBytes(central.toByteArray());
            long end64 = out.size();
            out.writeBytes(le(56).putInt(0x06064b50).putLong(44).putShort((short) 0x031e).putShort((short) 0x002d)
                    .putInt(0).putInt(0).putLong(count).putLong(count).putLong(cdSize).putLong(cdOffset).array());
            out.writeBytes(le(20).putInt(0x07064b50).putInt(0).putLong(end64).putInt(1).array());
            out.writeBytes(le(22).putInt(0x06054b50).putShort((short) 0).putShort((short) 0).putShort((short) count)
                    .putShort((short) count).putInt((int) cdSize).putInt((int) cdOffset).putShort((short) 0).array());
            return out.toByteArray();
        }
    }

    // ---- the legacy format ----

    /** The file torch.save wrote before PyTorch 1.6: five pickles, then each storage's count and bytes. */
    public byte[] legacy() {
        Map<Storage, String> keys = keys(true);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(PickleWriter.dump(new BigInteger("1950a86a20f9469cfc6c", 16)));
        out.writeBytes(PickleWriter.dump(1001));
        Map<String, Object> typeSizes = new LinkedHashMap<>();
        typeSizes.put("short", 2);
        typeSizes.put("int", 4);
        typeSizes.put("long", 4);
        Map<String, Object> sysInfo = new LinkedHashMap<>();
        sysInfo.put("protocol_version", 1001);
        sysInfo.put("little_endian", true);
        sysInfo.put("type_sizes", typeSizes);
        out.writeBytes(PickleWriter.dump(sysInfo));
        out.writeBytes(PickleWriter.dump(stateDict(keys, true)));
        Map<String, Storage> sorted = new TreeMap<>();
        keys.forEach((s, k) -> sorted.put(k, s));
        out.writeBytes(PickleWriter.dump(new ArrayList<>(sorted.keySet())));
        for (Storage s : sorted.values()) {
            out.writeBytes(le(8).putLong(s.numel()).array());
            out.writeBytes(s.data);
        }
        return out.toByteArray();
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The names of the tensors, in order. */
    public List<String> names() {
        return List.copyOf(tensors.keySet());
    }
}
