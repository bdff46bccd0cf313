package dev.arica.formats.gguf;

import dev.arica.formats.CheckpointWriter;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.TensorSequence;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes a GGUF file (version 3) in one pass: the header, metadata and tensor infos are computed from the tensors
 * declared up front, then each tensor's bytes are streamed in declaration order, every tensor starting at a multiple
 * of {@link Gguf#DEFAULT_ALIGNMENT} from the data section and the data section padded to it at the end, as GGML
 * writes it. The file appears at its destination only on {@link #commit()}.
 */
public final class GgufWriter implements CheckpointWriter {

    /**
     * A tensor to write: its GGML type and shape, outermost dimension first as arica's {@link TensorInfo} has it
     * (the file stores them innermost first).
     */
    public record Entry(String name, GgmlType type, long[] shape) {
        public Entry {
            shape = shape.clone();
            int nameBytes = name.getBytes(StandardCharsets.UTF_8).length;
            if (name.isEmpty() || nameBytes > Gguf.MAX_NAME_BYTES) {
                throw new IllegalArgumentException("GGUF tensor name '" + name + "' must have 1 to " + Gguf.MAX_NAME_BYTES
                        + " bytes, has " + nameBytes);
            }
            if (shape.length == 0 || shape.length > Gguf.MAX_DIMS) {
                throw new IllegalArgumentException("GGUF tensor " + name + " must have 1 to " + Gguf.MAX_DIMS
                        + " dimensions, has " + shape.length);
            }
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("negative dimension in GGUF tensor " + name);
                }
            }
            if (!type.fitsRow(shape[shape.length - 1])) {
                throw new IllegalArgumentException("GGUF tensor " + name + ": rows of " + shape[shape.length - 1]
                        + " values are not whole " + type + " blocks of " + type.blockValues());
            }
            type.bytes(TensorInfo.elements(shape)); // refuses a size that overflows a long
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Bytes of the tensor's data. */
        public long bytes() {
            return type.bytes(TensorInfo.elements(shape));
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Entry e && e.name.equals(name) && e.type == type && Arrays.equals(e.shape, shape);
        }

        @Override
        public int hashCode() {
            return name.hashCode();
        }

        @Override
        public String toString() {
            return name + " " + type + Arrays.toString(shape);
        }
    }

    private final List<Entry> tensors;
    private final long[] offsets;
    private final AtomicOutput atomic;
    private final FileChannel channel;
    private final long dataStart;
    private long position;
    private final TensorSequence sequence;

    private GgufWriter(AtomicOutput atomic, List<Entry> tensors, GgufKeyValues metadata) throws IOException {
        this.tensors = List.copyOf(tensors);
        this.sequence = new TensorSequence(this.tensors.stream().map(Entry::name).toList(),
                this.tensors.stream().mapToLong(Entry::bytes).toArray());
        this.atomic = atomic;
        this.offsets = new long[this.tensors.size()];
        byte[] header = header(this.tensors, metadata, offsets);
        if (!this.tensors.isEmpty()) {
            atomic.expect(Gguf.align(Gguf.align(header.length, Gguf.DEFAULT_ALIGNMENT) + offsets[offsets.length - 1]
                    + this.tensors.getLast().bytes(), Gguf.DEFAULT_ALIGNMENT));
        }
        this.channel = AtomicOutput.create(atomic.temp());
        try {
            writeFully(ByteBuffer.wrap(header));
            this.dataStart = Gguf.align(header.length, Gguf.DEFAULT_ALIGNMENT);
            pad(dataStart);
        } catch (IOException | RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** A writer of {@code tensors} with {@code metadata}, whose file appears at {@code destination} only on commit. */
    public static GgufWriter create(Path destination, List<Entry> tensors, GgufKeyValues metadata) throws IOException {
        if (metadata.has(GgufKeys.ALIGNMENT)) {
            throw new IllegalArgumentException(GgufKeys.ALIGNMENT + " is the writer's: it aligns to "
                    + Gguf.DEFAULT_ALIGNMENT + " and leaves the key out");
        }
        AtomicOutput out = AtomicOutput.file(destination);
        try {
            return new GgufWriter(out, tensors, metadata);
        } catch (IOException | RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /**
     * The header, metadata and tensor infos of a file holding {@code tensors}; each tensor's data offset (from the
     * start of the data section) goes into {@code offsets}.
     */
    static byte[] header(List<Entry> tensors, GgufKeyValues metadata, long[] offsets) {
        byte[] kv = metadata.encode();
        Set<String> names = new HashSet<>();
        List<byte[]> nameBytes = new ArrayList<>();
        long infoBytes = 0;
        long offset = 0;
        for (int i = 0; i < tensors.size(); i++) {
            Entry t = tensors.get(i);
            if (!names.add(t.name())) {
                throw new IllegalArgumentException("GGUF tensor name used twice: " + t.name());
            }
            byte[] n = t.name().getBytes(StandardCharsets.UTF_8);
            nameBytes.add(n);
            infoBytes += GgufValueType.STRING_HEADER_BYTES + n.length + 4 + 8L * t.shape.length + 4 + 8;
            offsets[i] = offset;
            offset = Gguf.align(Math.addExact(offset, t.bytes()), Gguf.DEFAULT_ALIGNMENT);
        }
        ByteBuffer b = ByteBuffer.allocate(Math.toIntExact(Gguf.HEADER_BYTES + kv.length + infoBytes))
                .order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(Gguf.MAGIC).putInt(Gguf.VERSION).putLong(tensors.size()).putLong(metadata.size());
        b.put(kv);
        for (int i = 0; i < tensors.size(); i++) {
            Entry t = tensors.get(i);
            b.putLong(nameBytes.get(i).length).put(nameBytes.get(i));
            b.putInt(t.shape.length);
            for (int d = t.shape.length - 1; d >= 0; d--) {
                b.putLong(t.shape[d]);
            }
            b.putInt(t.type().id()).putLong(offsets[i]);
        }
        return b.array();
    }

    /** The tensors in the order they are written. */
    public List<Entry> tensors() {
        return tensors;
    }

    /** Where the data section starts in the file. */
    public long dataStart() {
        return dataStart;
    }

    @Override
    public void begin(String name) throws IOException {
        pad(dataStart + offsets[sequence.begin(name)]);
    }

    @Override
    public void write(MemorySegment bytes) throws IOException {
        sequence.advance(bytes.byteSize(), "write");
        try {
            position += TensorSequence.writeFully(channel, bytes);
        } catch (IOException e) {
            throw AtomicOutput.explain(atomic.temp(), e);
        }
    }

    /** Finishes the file (its data section padded to the alignment) and moves it under the destination name. */
    @Override
    public void commit() throws IOException {
        sequence.checkComplete();
        pad(Gguf.align(position, Gguf.DEFAULT_ALIGNMENT));
        channel.close();
        atomic.commit();
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            atomic.close();
        }
    }

    /** Writes zeros up to file offset {@code to}. */
    private void pad(long to) throws IOException {
        if (to > position) {
            writeFully(ByteBuffer.allocate(Math.toIntExact(to - position)));
        }
    }

    private void writeFully(ByteBuffer b) throws IOException {
        try {
            position += TensorSequence.writeFully(channel, b);
        } catch (IOException e) {
            throw AtomicOutput.explain(atomic.temp(), e);
        }
    }
}
