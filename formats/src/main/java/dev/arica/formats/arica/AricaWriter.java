package dev.arica.formats.arica;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.luben.zstd.ZstdOutputStreamNoFinalizer;
import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.formats.io.MappedMemory;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.CRC32C;

/**
 * Writes an .arica file in one pass: blobs first (each 64-byte aligned, checksummed as written, optionally
 * zstd-compressed), the index and trailer last. The file appears at its destination only on commit.
 */
public final class AricaWriter implements AutoCloseable {
    private static final int COPY_CHUNK = 1 << 20;

    private final AtomicOutput out;
    private final FileChannel channel;
    private final List<AricaEntry> entries = new ArrayList<>();
    private final List<ObjectNode> files = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private long position;
    private Pending current;
    private FileChannel source;
    private Path sourcePath;

    /** The tensor being written. */
    private final class Pending {
        final String name;
        final DType dtype;
        final long[] shape;
        final Storage storage;
        final int level;
        final long offset;
        final long rawLength;
        final CRC32C crc = new CRC32C();
        long rawWritten;
        final ZstdOutputStreamNoFinalizer zstd;
        final CountingChannelStream sink;

        Pending(String name, DType dtype, long[] shape, Storage storage, int level) throws IOException {
            this.name = name;
            this.dtype = dtype;
            this.shape = shape.clone();
            this.storage = storage;
            this.level = level;
            this.offset = position;
            this.rawLength = storage.rawBytes(shape);
            this.sink = new CountingChannelStream(crc);
            this.zstd = level > 0 ? new ZstdOutputStreamNoFinalizer(sink, level) : null;
        }
    }

    /** Forwards compressed bytes to the channel, checksumming and counting them. */
    private final class CountingChannelStream extends OutputStream {
        private final CRC32C crc;

        CountingChannelStream(CRC32C crc) {
            this.crc = crc;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            crc.update(b, off, len);
            writeFully(ByteBuffer.wrap(b, off, len));
        }
    }

    private AricaWriter(AtomicOutput out) throws IOException {
        this.out = out;
        this.channel = AtomicOutput.create(out.temp());
        ByteBuffer header = ByteBuffer.allocate(AricaFormat.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        header.put(AricaFormat.MAGIC).putShort((short) AricaFormat.MAJOR).putShort((short) AricaFormat.MINOR);
        header.clear();
        try {
            writeFully(header);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    public static AricaWriter create(Path destination) throws IOException {
        AtomicOutput out = AtomicOutput.file(destination);
        try {
            return new AricaWriter(out);
        } catch (IOException | RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /**
     * Starts a tensor.
     *
     * @param zstdLevel 0 for no compression, else the zstd level (1..22)
     */
    public void begin(String name, DType dtype, long[] shape, Storage storage, int zstdLevel) throws IOException {
        if (current != null) {
            throw new IllegalStateException("tensor " + current.name + " is not finished");
        }
        if (!names.add(name)) {
            throw new IllegalArgumentException("tensor name used twice: " + name);
        }
        if (zstdLevel < 0 || zstdLevel > 22) {
            throw new IllegalArgumentException("zstd level must be 1..22 (0: none), got " + zstdLevel);
        }
        pad();
        current = new Pending(name, dtype, shape, storage, zstdLevel);
    }

    /** Appends stored (uncompressed) bytes to the current tensor. */
    public void write(MemorySegment bytes) throws IOException {
        Pending p = current;
        if (p == null || p.rawWritten + bytes.byteSize() > p.rawLength) {
            throw new IllegalStateException("write does not fit the current tensor");
        }
        if (p.zstd == null) {
            for (long off = 0; off < bytes.byteSize(); off += 1L << 30) {
                ByteBuffer b = bytes.asSlice(off, Math.min(1L << 30, bytes.byteSize() - off)).asByteBuffer();
                p.crc.update(b.duplicate());
                writeFully(b);
            }
        } else {
            byte[] chunk = new byte[(int) Math.min(COPY_CHUNK, Math.max(1, bytes.byteSize()))];
            for (long off = 0; off < bytes.byteSize(); off += chunk.length) {
                int n = (int) Math.min(chunk.length, bytes.byteSize() - off);
                MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, off, chunk, 0, n);
                p.zstd.write(chunk, 0, n);
            }
        }
        p.rawWritten += bytes.byteSize();
    }

    /** Finishes the current tensor and returns its entry. */
    public AricaEntry end() throws IOException {
        Pending p = current;
        if (p == null || p.rawWritten != p.rawLength) {
            throw new IllegalStateException("tensor " + (p == null ? "?" : p.name) + " is incomplete");
        }
        if (p.zstd != null) {
            p.zstd.close();
        }
        AricaEntry e = new AricaEntry(p.name, p.dtype, p.shape, p.storage, p.offset, position - p.offset, p.rawLength,
                p.crc.getValue(), p.zstd != null, p.level);
        entries.add(e);
        current = null;
        return e;
    }

    /**
     * Writes a tensor of another .arica file under {@code name}, its stored bytes (quantized, compressed or
     * not) unchanged: checksummed from {@code source}'s mapping, then copied file to file in the kernel
     * (copy_file_range on Linux). A checksum that differs from the source entry's means the source is
     * corrupt, and nothing is copied.
     */
    public AricaEntry copy(AricaFile source, AricaEntry entry, String name) throws IOException {
        if (current != null) {
            throw new IllegalStateException("tensor " + current.name + " is not finished");
        }
        if (!names.add(name)) {
            throw new IllegalArgumentException("tensor name used twice: " + name);
        }
        MemorySegment stored = source.stored(entry);
        long crc = AricaFile.crc(stored);
        MappedMemory.release(stored);
        if (crc != entry.crc32c()) {
            throw new FormatException(source.path(), entry.name(), "checksum mismatch (stored data is corrupt)");
        }
        pad();
        long offset = position;
        FileChannel from = sourceChannel(source.path());
        for (long done = 0; done < entry.length(); ) {
            long n;
            try {
                n = from.transferTo(entry.offset() + done, entry.length() - done, channel);
            } catch (IOException ex) {
                throw AtomicOutput.explain(out.temp(), ex);
            }
            if (n <= 0 && entry.offset() + done >= from.size()) {
                throw new FormatException(source.path(), entry.name(), "file ends inside the tensor's data");
            }
            done += Math.max(n, 0);
            position += Math.max(n, 0);
        }
        AricaEntry e = new AricaEntry(name, entry.dtype(), entry.shape(), entry.storage(), offset, entry.length(),
                entry.rawLength(), crc, entry.compressed(), entry.zstdLevel());
        entries.add(e);
        return e;
    }

    /** A channel on the source of {@link #copy}, kept open while consecutive copies read the same file. */
    private FileChannel sourceChannel(Path file) throws IOException {
        if (source == null || !sourcePath.equals(file)) {
            if (source != null) {
                source.close();
            }
            source = FileChannel.open(file, StandardOpenOption.READ);
            sourcePath = file;
        }
        return source;
    }

    /** Embeds a side file (tokenizer, generation config). */
    public void addFile(String name, byte[] content) throws IOException {
        if (current != null) {
            throw new IllegalStateException("tensor " + current.name + " is not finished");
        }
        new dev.arica.formats.AuxFile(name, null, new byte[0]); // validates the name
        pad();
        long offset = position;
        CRC32C crc = new CRC32C();
        crc.update(content);
        writeFully(ByteBuffer.wrap(content));
        ObjectNode f = Json.MAPPER.createObjectNode();
        f.put("name", name).put("offset", offset).put("length", content.length).put("crc32c", crc.getValue());
        files.add(f);
    }

    public List<AricaEntry> entries() {
        return List.copyOf(entries);
    }

    /** Writes index and trailer, then moves the file to its destination. */
    public void commit(ObjectNode config, ObjectNode provenance, Map<String, String> user) throws IOException {
        if (current != null) {
            throw new IllegalStateException("tensor " + current.name + " is not finished");
        }
        ObjectNode index = Json.MAPPER.createObjectNode();
        boolean transposed = entries.stream().anyMatch(e -> e.storage() instanceof Storage.Quantized q && q.transposed());
        boolean permuted = entries.stream().anyMatch(e -> e.storage() instanceof Storage.Quantized q && q.permuted());
        int major = permuted ? AricaFormat.MAJOR_PERMUTED : transposed ? AricaFormat.MAJOR_TRANSPOSED : AricaFormat.MAJOR;
        if (major != AricaFormat.MAJOR) {
            ByteBuffer version = ByteBuffer.allocate(2).order(ByteOrder.LITTLE_ENDIAN).putShort(0, (short) major);
            try {
                while (version.hasRemaining()) {
                    channel.write(version, 8 + version.position());
                }
            } catch (IOException ex) {
                throw AtomicOutput.explain(out.temp(), ex);
            }
        }
        index.put("format_version", major + "." + AricaFormat.MINOR);
        ArrayNode ts = index.putArray("tensors");
        for (AricaEntry e : entries) {
            ObjectNode o = ts.addObject();
            o.put("name", e.name());
            ArrayNode shape = o.putArray("shape");
            for (long d : e.shape()) {
                shape.add(d);
            }
            o.put("dtype", e.dtype().safetensorsName());
            o.put("storage", e.storage().id());
            if (e.storage() instanceof Storage.Quantized q) {
                o.put("group_size", q.layout().groupSize());
                o.put("asymmetric", q.layout().asymmetric());
                if (q.transposed()) {
                    o.put("transposed", true);
                }
                if (q.permuted()) {
                    o.put("permuted", true);
                }
            }
            o.put("offset", e.offset()).put("length", e.length()).put("raw_length", e.rawLength());
            o.put("crc32c", e.crc32c());
            o.put("compression", e.compressed() ? "zstd" : "none");
            if (e.compressed()) {
                o.put("zstd_level", e.zstdLevel());
            }
        }
        ArrayNode fs = index.putArray("files");
        files.forEach(fs::add);
        index.set("config", config == null ? Json.MAPPER.nullNode() : config);
        index.set("provenance", provenance == null ? Json.MAPPER.createObjectNode() : provenance);
        ObjectNode u = index.putObject("user");
        if (user != null) {
            user.forEach(u::put);
        }
        byte[] json = index.toString().getBytes(StandardCharsets.UTF_8);
        long indexOffset = position;
        writeFully(ByteBuffer.wrap(json));
        CRC32C crc = new CRC32C();
        crc.update(json);
        ByteBuffer trailer = ByteBuffer.allocate(AricaFormat.TRAILER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        trailer.put(AricaFormat.END_MAGIC).putLong(indexOffset).putLong(json.length).putInt((int) crc.getValue());
        trailer.clear();
        writeFully(trailer);
        channel.close();
        if (source != null) {
            source.close();
        }
        out.commit();
    }

    private void pad() throws IOException {
        long aligned = AricaFormat.align(position);
        if (aligned > position) {
            writeFully(ByteBuffer.allocate((int) (aligned - position)));
        }
    }

    private void writeFully(ByteBuffer b) throws IOException {
        try {
            while (b.hasRemaining()) {
                position += channel.write(b);
            }
        } catch (IOException e) {
            throw AtomicOutput.explain(out.temp(), e);
        }
    }

    @Override
    public void close() throws IOException {
        try {
            if (current != null && current.zstd != null) {
                current.zstd.close();
            }
        } catch (IOException ignored) {
            // The temporary is deleted below; a failed flush of it does not matter.
        } finally {
            try {
                channel.close();
                if (source != null) {
                    source.close();
                }
            } finally {
                out.close();
            }
        }
    }
}
