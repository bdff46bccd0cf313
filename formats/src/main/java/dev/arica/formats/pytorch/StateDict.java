package dev.arica.formats.pytorch;

import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The tensors of an unpickled state dict (names mapped to tensors), each checked against the bytes of its storage
 * and taken as a view of them. What is not a flat dict of tensors is refused, naming the key.
 */
final class StateDict {

    /** Where a storage's bytes lie: a view of the mapped file and its offset in the file. */
    record StorageBytes(MemorySegment bytes, long fileOffset) {}

    /** A container's storages: zip entries, or the records after a legacy file's pickles. */
    interface Storages {
        /** The bytes of {@code ref}, read for {@code tensor}, which a refusal names. */
        StorageBytes of(StorageRef ref, String tensor) throws FormatException;
    }

    /** What a container holds: the unpickled object and its storages. */
    record Source(Object root, Storages storages) {}

    /** A tensor and where its bytes lie. */
    record Entry(TensorInfo info, MemorySegment bytes, long fileOffset) {}

    private StateDict() {}

    /** The tensors of {@code source} in the dict's order. */
    static Map<String, Entry> tensors(Path file, Source source) throws FormatException {
        if (!(source.root() instanceof Map<?, ?> dict)) {
            throw new FormatException(file, "holds " + PickleReader.describe(source.root()) + ", not a state dict "
                    + "(a dict of names to tensors)");
        }
        Map<String, Entry> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : dict.entrySet()) {
            if (!(e.getKey() instanceof String name) || !PickleReader.printable(name).equals(name)) {
                throw new FormatException(file, "a key of the state dict is " + PickleReader.describe(e.getKey())
                        + ", not a tensor name (a string without control characters)");
            }
            if (!(e.getValue() instanceof TensorRef t)) {
                throw new FormatException(file, "key '" + name + "' holds " + PickleReader.describe(e.getValue())
                        + ", not a tensor: arica reads state dicts, names mapped to tensors");
            }
            out.put(name, entry(file, name, t, source.storages()));
        }
        return Collections.unmodifiableMap(out);
    }

    private static Entry entry(Path file, String name, TensorRef t, Storages storages) throws FormatException {
        StorageRef s = t.storage();
        DType dtype = s.dtype();
        String storage = "storage '" + PickleReader.printable(s.key()) + "'";
        long storageBytes;
        long elements;
        try {
            storageBytes = s.byteSize();
            elements = TensorInfo.elements(t.size());
        } catch (ArithmeticException ex) {
            throw new FormatException(file, name, "size " + Arrays.toString(t.size()) + " or " + storage + " of "
                    + s.numel() + " elements is too large");
        }
        StorageBytes b = storages.of(s, name);
        if (b.bytes().byteSize() != storageBytes) {
            throw new FormatException(file, name, storage + " holds " + b.bytes().byteSize() + " bytes, but its "
                    + "persistent id says " + s.numel() + " elements of " + dtype + " (" + storageBytes + " bytes)");
        }
        long expected = 1;
        for (int i = t.size().length - 1; i >= 0; i--) {
            if (t.size()[i] != 1 && t.stride()[i] != expected && elements > 0) {
                throw new FormatException(file, name, "is a non-contiguous view (size " + Arrays.toString(t.size())
                        + ", stride " + Arrays.toString(t.stride()) + ") of " + storage + ": arica maps tensors as "
                        + "they lie; save it with .contiguous()");
            }
            expected *= t.size()[i];
        }
        if (elements > 0 && (t.offset() > s.numel() || elements > s.numel() - t.offset())) {
            throw new FormatException(file, name, "elements [" + t.offset() + ", " + t.offset() + " + " + elements
                    + ") run past the end of " + storage + " of " + s.numel() + " elements");
        }
        long start = dtype.bytesFor(Math.min(t.offset(), s.numel()));
        TensorInfo info = new TensorInfo(name, dtype, t.size());
        return new Entry(info, b.bytes().asSlice(start, info.byteSize()), b.fileOffset() + start);
    }
}
