package dev.arica.formats.safetensors;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.CheckpointWriter;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.Json;
import dev.arica.formats.io.TensorSequence;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a safetensors file in one pass: the header (padded with spaces to a multiple of 8 bytes) is
 * computed from the declared tensors, then each tensor's bytes are streamed in declaration order.
 */
public final class SafetensorsWriter implements CheckpointWriter {


    private final Path file;
    private final List<TensorInfo> tensors;
    private final AtomicOutput atomic;
    private final FileChannel channel;
    private final long dataStart;
    private final TensorSequence sequence;
    private boolean committed;

    private SafetensorsWriter(Path file, AtomicOutput atomic, List<TensorInfo> tensors, Map<String, String> metadata)
            throws IOException {
        this.tensors = List.copyOf(tensors);
        this.sequence = new TensorSequence(this.tensors.stream().map(TensorInfo::name).toList(),
                this.tensors.stream().mapToLong(TensorInfo::byteSize).toArray());
        this.file = file;
        this.atomic = atomic;
        byte[] header = header(this.tensors, metadata);
        this.dataStart = 8L + header.length;
        if (atomic != null) {
            atomic.expect(fileSize(this.tensors, header.length));
        }
        this.channel = AtomicOutput.create(file);
        try {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
            TensorSequence.writeFully(channel, len);
            TensorSequence.writeFully(channel, ByteBuffer.wrap(header));
        } catch (IOException e) {
            channel.close();
            throw AtomicOutput.explain(file, e);
        } catch (RuntimeException e) {
            channel.close();
            throw e;
        }
    }

    /** A writer whose output appears at {@code destination} only on commit. */
    public static SafetensorsWriter create(Path destination, List<TensorInfo> tensors, Map<String, String> metadata)
            throws IOException {
        AtomicOutput out = AtomicOutput.file(destination);
        try {
            return new SafetensorsWriter(out.temp(), out, tensors, metadata);
        } catch (IOException | RuntimeException e) {
            out.close();
            throw e;
        }
    }

    /**
     * A writer straight to {@code file}, which must not exist; for callers that make a whole directory
     * atomic themselves.
     */
    public static SafetensorsWriter createUnmanaged(Path file, List<TensorInfo> tensors, Map<String, String> metadata)
            throws IOException {
        return new SafetensorsWriter(file, null, tensors, metadata);
    }

    /** Bytes of the file holding {@code tensors} behind a header of {@code headerBytes}. */
    static long fileSize(List<TensorInfo> tensors, long headerBytes) {
        return 8 + headerBytes + tensors.stream().mapToLong(TensorInfo::byteSize).sum();
    }

    /** Bytes of the file {@link #header} and the tensors make. */
    public static long fileSize(List<TensorInfo> tensors, Map<String, String> metadata) {
        return fileSize(tensors, header(tensors, metadata).length);
    }

    /** The header bytes for these tensors, padded with spaces so that the data starts 8-byte aligned. */
    public static byte[] header(List<TensorInfo> tensors, Map<String, String> metadata) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            ObjectNode meta = root.putObject("__metadata__");
            metadata.forEach(meta::put);
        }
        Set<String> seen = new HashSet<>();
        long offset = 0;
        for (TensorInfo t : tensors) {
            if (!seen.add(t.name()) || t.name().equals("__metadata__")) {
                throw new IllegalArgumentException("tensor name used twice or reserved: " + t.name());
            }
            ObjectNode e = root.putObject(t.name());
            e.put("dtype", t.dtype().safetensorsName());
            ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) {
                shape.add(d);
            }
            long end = offset + t.byteSize();
            e.putArray("data_offsets").add(offset).add(end);
            offset = end;
        }
        byte[] json = root.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) & ~7;
        byte[] out = java.util.Arrays.copyOf(json, padded);
        java.util.Arrays.fill(out, json.length, padded, (byte) ' ');
        return out;
    }

    @Override
    public void begin(String name) throws IOException {
        sequence.begin(name);
    }

    @Override
    public void write(MemorySegment bytes) throws IOException {
        sequence.advance(bytes.byteSize(), "write");
        try {
            TensorSequence.writeFully(channel, bytes);
        } catch (IOException e) {
            throw AtomicOutput.explain(file, e);
        }
    }

    @Override
    public void transfer(FileChannel source, long position, long count) throws IOException {
        sequence.advance(count, "transfer");
        for (long done = 0; done < count; ) {
            long n;
            try {
                n = source.transferTo(position + done, count - done, channel);
            } catch (IOException e) {
                throw AtomicOutput.explain(file, e);
            }
            if (n <= 0) {
                // transferTo returns 0 at the end of the source as well: tell a short file from a stall.
                if (position + done >= source.size()) {
                    throw new EOFException("source ends " + (count - done) + " bytes before the range copied");
                }
                continue;
            }
            done += n;
        }
    }

    /** Current end of the file: where the next write lands. */
    public long position() throws IOException {
        return channel.position();
    }

    /** Where the data section starts in the file. */
    public long dataStart() {
        return dataStart;
    }

    @Override
    public void commit() throws IOException {
        sequence.checkComplete();
        channel.close();
        if (atomic != null) {
            atomic.commit();
        }
        committed = true;
    }

    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            if (atomic != null) {
                atomic.close();
            }
        }
    }

    public boolean committed() {
        return committed;
    }
}
