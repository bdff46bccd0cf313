package dev.arica.formats.pytorch;

import dev.arica.formats.FormatException;
import dev.arica.formats.MappedCheckpoint;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorIndex;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;

/**
 * A state dict that torch.save wrote ({@code pytorch_model.bin}, {@code adapter_model.bin}, any {@code .pt}),
 * zip archive or legacy file, mapped once and read without running Python: its pickle goes through
 * {@link PickleReader}'s allow-list, and every tensor is a view of the mapped storage bytes.
 */
public final class PyTorchCheckpoint extends MappedCheckpoint {

    private static final byte[] ZIP_MAGIC = {'P', 'K', 3, 4};
    /** LONG1 of PyTorch's legacy magic number, as pickle writes it. */
    private static final byte[] LEGACY_MAGIC = {(byte) 0x8a, 10, 0x6c, (byte) 0xfc, (byte) 0x9c, 0x46, (byte) 0xf9, 0x20,
        0x6a, (byte) 0xa8, 0x50, 0x19};
    /** Where the legacy magic number lies: after PROTO, and after a FRAME too from protocol 4. */
    private static final int[] LEGACY_MAGIC_AT = {2, 11};
    private static final int SNIFF_BYTES = 32;

    private PyTorchCheckpoint(Arena arena, TensorIndex index) {
        super(arena, index);
    }

    /** True when the file starts as a zip archive or as torch.save's legacy format does. */
    public static boolean looksLikePyTorch(Path path) throws IOException {
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(SNIFF_BYTES);
            while (b.hasRemaining() && ch.read(b) > 0) { /* fill */ }
            byte[] head = Arrays.copyOf(b.array(), b.position());
            return isZip(head) || isLegacy(head);
        }
    }

    public static PyTorchCheckpoint open(Path path) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            MemorySegment all = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            byte[] head = all.asSlice(0, Math.min(size, SNIFF_BYTES)).toArray(ValueLayout.JAVA_BYTE);
            StateDict.Source source;
            if (isZip(head)) {
                source = TorchArchive.read(path, all);
            } else if (isLegacy(head)) {
                source = LegacyTorchFile.read(path, all);
            } else {
                throw new FormatException(path, "neither a zip archive nor a legacy file of torch.save: not a PyTorch "
                        + "checkpoint");
            }
            TensorIndex.Builder index = TensorIndex.builder(path);
            for (StateDict.Entry e : StateDict.tensors(path, source).values()) {
                index.add(Tensor.of(e.info(), e.bytes()), e.fileOffset());
            }
            return new PyTorchCheckpoint(arena, index.build());
        } catch (IOException | RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    private static boolean isZip(byte[] head) {
        return head.length >= ZIP_MAGIC.length && Arrays.equals(head, 0, ZIP_MAGIC.length, ZIP_MAGIC, 0, ZIP_MAGIC.length);
    }

    /** PROTO 2 to 5, then (after a frame header) the LONG1 of the magic number: no llama2.c header starts so. */
    private static boolean isLegacy(byte[] head) {
        if (head.length < 2 || (head[0] & 0xff) != PickleOpcode.PROTO.code || head[1] < 2
                || head[1] > PickleReader.HIGHEST_PROTOCOL) {
            return false;
        }
        for (int at : LEGACY_MAGIC_AT) {
            if (head.length >= at + LEGACY_MAGIC.length
                    && Arrays.equals(head, at, at + LEGACY_MAGIC.length, LEGACY_MAGIC, 0, LEGACY_MAGIC.length)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public String format() {
        return "pytorch";
    }

    @Override
    public Map<String, String> metadata() {
        return Map.of();
    }
}
