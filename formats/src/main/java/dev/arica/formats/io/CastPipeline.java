package dev.arica.formats.io;

import dev.arica.formats.CheckpointWriter;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;

/**
 * Streams tensors into a {@link CheckpointWriter} in order, casting chunks on worker threads while the
 * caller's thread writes the chunks already cast ({@link ChunkPipeline}). A tensor whose file location is known is
 * read from the file into the chunk buffers ({@link SourceChannels}), others through their mapping.
 */
public final class CastPipeline implements AutoCloseable {
    /** Elements per chunk: a few MB, large enough for efficient writes, small enough to stay flat. */
    public static final int CHUNK_ELEMENTS = 1 << 20;

    /** Smallest pipeline buffer {@link #queueCast} needs: a chunk of the widest float type. */
    public static final long BUFFER_BYTES = CHUNK_ELEMENTS * 8L;

    private final CheckpointWriter writer;
    private final ChunkPipeline pipeline;
    private final SourceChannels channels = new SourceChannels();

    public CastPipeline(CheckpointWriter writer, Progress progress) {
        this.writer = writer;
        this.pipeline = new ChunkPipeline(writer::write, progress, BUFFER_BYTES,
                ChunkPipeline.defaultThreads());
    }

    /** Writes {@code src} unchanged; {@code location}: where its bytes lie in a file, or null. */
    public void copy(Tensor src, FileRange location) throws IOException {
        pipeline.then(() -> writer.begin(src.name()));
        if (readable(src.info().dtype(), src.info().dtype(), location)) {
            queueRead(src, location, src.info().dtype());
            return;
        }
        for (MemorySegment part : src.parts()) {
            pipeline.copy(part);
        }
    }

    /** Writes {@code src} cast to {@code to}, chunk by chunk; {@code location}: where its bytes lie in a file, or null. */
    public void cast(Tensor src, DType to, FileRange location) throws IOException {
        pipeline.then(() -> writer.begin(src.name()));
        if (readable(src.info().dtype(), to, location)) {
            queueRead(src, location, to);
            return;
        }
        queueCast(pipeline, src, to);
    }

    /** Whether chunks can be read from the file: a location, reads enabled, and room for both types in a buffer. */
    private static boolean readable(DType from, DType to, FileRange location) {
        return location != null && SourceChannels.ENABLED
                && from.bytesFor(CHUNK_ELEMENTS) + to.bytesFor(CHUNK_ELEMENTS) <= BUFFER_BYTES;
    }

    /** Queues the chunks of {@code src}, each read from {@code location} into its buffer, then cast to {@code to}. */
    private void queueRead(Tensor src, FileRange location, DType to) throws IOException {
        DType from = src.info().dtype();
        FileChannel ch = channels.of(location.file());
        long n = src.info().elements();
        for (long e = 0; e < n; e += CHUNK_ELEMENTS) {
            long m = Math.min(CHUNK_ELEMENTS, n - e);
            long first = e;
            pipeline.submit(buffer -> {
                // The stored bytes, when they are to be cast, after the room of the cast ones.
                MemorySegment out = buffer.asSlice(0, to.bytesFor(m));
                SourceChannels.readAs(ch, location, from, first, m, to, out, buffer.asSlice(to.bytesFor(m)));
                return out;
            }, null, to.bytesFor(m));
        }
    }

    /** Queues the chunks of {@code src} cast to {@code to} on {@code pipeline}; the caller starts the tensor. */
    public static void queueCast(ChunkPipeline pipeline, Tensor src, DType to) throws IOException {
        DType from = src.info().dtype();
        for (MemorySegment part : src.parts()) {
            long n = part.byteSize() / from.byteSize();
            for (long e = 0; e < n; e += CHUNK_ELEMENTS) {
                long m = Math.min(CHUNK_ELEMENTS, n - e);
                MemorySegment in = part.asSlice(from.bytesFor(e), from.bytesFor(m));
                pipeline.submit(buffer -> {
                    MemorySegment out = buffer.asSlice(0, to.bytesFor(m));
                    FloatCast.cast(from, in, to, out, m);
                    return out;
                }, in, to.bytesFor(m));
            }
        }
    }

    /** Runs {@code action} once everything queued before it is written. */
    public void then(ChunkPipeline.Action action) throws IOException {
        pipeline.then(action);
    }

    /** Writes every chunk still in flight. */
    public void drain() throws IOException {
        pipeline.drain();
    }

    @Override
    public void close() {
        pipeline.close();
        try {
            channels.close();
        } catch (IOException e) {
            // Read-only channels: closing them cannot lose anything written.
        }
    }
}
