package dev.arica.formats.pytorch;

import dev.arica.formats.FormatException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A file torch.save wrote before PyTorch 1.6 (or with {@code _use_new_zipfile_serialization=False}): five pickles
 * back to back (the magic number, the protocol version 1001, a dict of system information, the object, the list
 * of storage keys), then for each listed key its element count as a little-endian u64 and its bytes.
 */
final class LegacyTorchFile {

    static final BigInteger MAGIC_NUMBER = new BigInteger("1950a86a20f9469cfc6c", 16);
    static final long PROTOCOL_VERSION = 1001;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private LegacyTorchFile() {}

    static StateDict.Source read(Path file, MemorySegment all) throws FormatException {
        PickleReader.Result magic = PickleReader.read(file, "pickle 1 (magic number)", all, 0, new HashMap<>());
        if (!(magic.value() instanceof BigInteger n) || !n.equals(MAGIC_NUMBER)) {
            throw new FormatException(file, "a pickle, but not a file torch.save wrote: its first value is "
                    + PickleReader.describe(magic.value()) + ", not PyTorch's magic number");
        }
        PickleReader.Result protocol = PickleReader.read(file, "pickle 2 (protocol version)", all, magic.end(),
                new HashMap<>());
        if (!Long.valueOf(PROTOCOL_VERSION).equals(protocol.value())) {
            throw new FormatException(file, "legacy PyTorch protocol version is " + PickleReader.describe(protocol.value())
                    + ", not " + PROTOCOL_VERSION);
        }
        PickleReader.Result sysInfo = PickleReader.read(file, "pickle 3 (system information)", all, protocol.end(),
                new HashMap<>());
        if (!(sysInfo.value() instanceof Map<?, ?>)) {
            throw new FormatException(file, "pickle 3 holds " + PickleReader.describe(sysInfo.value())
                    + ", not PyTorch's dict of system information");
        }
        Map<String, StorageRef> named = new HashMap<>();
        PickleReader.Result object = PickleReader.read(file, "pickle 4 (the state dict)", all, sysInfo.end(), named);
        PickleReader.Result keys = PickleReader.read(file, "pickle 5 (storage keys)", all, object.end(), new HashMap<>());
        if (!(keys.value() instanceof List<?> list)) {
            throw new FormatException(file, "pickle 5 holds " + PickleReader.describe(keys.value())
                    + ", not the list of storage keys");
        }
        Map<String, StateDict.StorageBytes> stored = new HashMap<>();
        long pos = keys.end();
        for (Object k : list) {
            if (!(k instanceof String key) || !named.containsKey(key)) {
                throw new FormatException(file, "pickle 5 lists storage " + PickleReader.describe(k)
                        + ", which no persistent id names");
            }
            StorageRef ref = named.get(key);
            String shown = "storage '" + PickleReader.printable(key) + "'";
            if (stored.containsKey(key)) {
                throw new FormatException(file, "pickle 5 lists " + shown + " twice");
            }
            if (all.byteSize() - pos < 8) {
                throw new FormatException(file, "the file ends at " + all.byteSize() + " before " + shown
                        + " (truncated)");
            }
            long numel = all.get(U64, pos);
            if (numel != ref.numel()) {
                throw new FormatException(file, shown + " at " + pos + " holds " + Long.toUnsignedString(numel)
                        + " elements, but its persistent id says " + ref.numel());
            }
            long bytes;
            try {
                bytes = ref.byteSize();
            } catch (ArithmeticException e) {
                throw new FormatException(file, shown + " of " + numel + " elements is too large");
            }
            if (bytes > all.byteSize() - pos - 8) {
                throw new FormatException(file, shown + " of " + bytes + " bytes at " + (pos + 8) + " runs past the "
                        + "end of the " + all.byteSize() + "-byte file (truncated or a lying size)");
            }
            stored.put(key, new StateDict.StorageBytes(all.asSlice(pos + 8, bytes), pos + 8));
            pos += 8 + bytes;
        }
        if (pos != all.byteSize()) {
            throw new FormatException(file, (all.byteSize() - pos) + " bytes after the last storage");
        }
        return new StateDict.Source(object.value(), (ref, tensor) -> {
            StateDict.StorageBytes b = stored.get(ref.key());
            if (b == null) {
                throw new FormatException(file, tensor, "its storage '" + PickleReader.printable(ref.key())
                        + "' is not among the storages the file lists");
            }
            return b;
        });
    }
}
