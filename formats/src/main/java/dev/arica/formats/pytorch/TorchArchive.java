package dev.arica.formats.pytorch;

import dev.arica.formats.FormatException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Optional;

/**
 * A file torch.save wrote as a zip archive (PyTorch 1.6 and later): under one folder, {@code data.pkl} (the
 * pickled object), {@code data/<key>} (each storage's bytes, stored uncompressed), {@code version} and, since
 * PyTorch 1.13, {@code byteorder}. The folder is the first entry's, as PyTorch's reader takes it.
 */
final class TorchArchive {

    /** Longest version record read: a decimal number and a newline. */
    private static final int MAX_VERSION_BYTES = 20;

    private TorchArchive() {}

    static StateDict.Source read(Path file, MemorySegment all) throws FormatException {
        ZipDirectory zip = ZipDirectory.read(file, all);
        if (zip.entries().isEmpty()) {
            throw new FormatException(file, "zip archive holds no entries: not a PyTorch file");
        }
        String first = zip.entries().getFirst().name();
        int slash = first.indexOf('/');
        if (slash <= 0) {
            throw new FormatException(file, "zip entry '" + PickleReader.printable(first) + "' is not in a folder: "
                    + "not a PyTorch archive, whose entries share one");
        }
        String folder = first.substring(0, slash + 1);
        String pkl = folder + "data.pkl";
        ZipDirectory.Entry data = zip.entry(pkl).orElseThrow(() -> new FormatException(file, "zip archive has no "
                + PickleReader.printable(pkl) + ": not a file torch.save wrote"));
        checkVersion(file, zip, folder);
        checkByteOrder(file, zip, folder);
        MemorySegment pickle = zip.checked(data);
        PickleReader.Result r = PickleReader.read(file, PickleReader.printable(pkl), pickle, 0, new HashMap<>());
        if (r.end() != pickle.byteSize()) {
            throw new FormatException(file, PickleReader.printable(pkl) + ": " + (pickle.byteSize() - r.end())
                    + " bytes after its STOP");
        }
        return new StateDict.Source(r.value(), (ref, tensor) -> {
            String name = folder + "data/" + ref.key();
            ZipDirectory.Entry e = zip.entry(name).orElseThrow(() -> new FormatException(file, tensor, "its storage '"
                    + PickleReader.printable(ref.key()) + "' has no entry " + PickleReader.printable(name)
                    + " in the archive"));
            return new StateDict.StorageBytes(zip.stored(e, tensor), e.data());
        });
    }

    /** {@code version} (or {@code .data/version} from PyTorch's later writers): a decimal number. */
    private static void checkVersion(Path file, ZipDirectory zip, String folder) throws FormatException {
        Optional<ZipDirectory.Entry> v = zip.entry(folder + "version").or(() -> zip.entry(folder + ".data/version"));
        if (v.isEmpty()) {
            throw new FormatException(file, "zip archive has no " + PickleReader.printable(folder)
                    + "version record: not a file torch.save wrote");
        }
        String text = record(file, zip, v.get()).strip();
        if (!text.matches("[0-9]{1," + (MAX_VERSION_BYTES - 2) + "}") || Long.parseLong(text) < 1) {
            throw new FormatException(file, "version record '" + PickleReader.printable(text)
                    + "' is not a positive decimal number");
        }
    }

    /** Storages are in the writer's byte order; only little-endian ones are read (absent means little). */
    private static void checkByteOrder(Path file, ZipDirectory zip, String folder) throws FormatException {
        Optional<ZipDirectory.Entry> b = zip.entry(folder + "byteorder");
        if (b.isEmpty()) {
            return;
        }
        String order = record(file, zip, b.get());
        if (order.equals("big")) {
            throw new FormatException(file, "storages are big-endian (byteorder 'big'): arica reads little-endian "
                    + "data only");
        }
        if (!order.equals("little")) {
            throw new FormatException(file, "byteorder record '" + PickleReader.printable(order)
                    + "' is neither 'little' nor 'big'");
        }
    }

    private static String record(Path file, ZipDirectory zip, ZipDirectory.Entry e) throws FormatException {
        if (e.size() > MAX_VERSION_BYTES) {
            throw new FormatException(file, "zip entry '" + PickleReader.printable(e.name()) + "' holds " + e.size()
                    + " bytes, more than a short record");
        }
        return new String(zip.checked(e).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
    }
}
