package dev.arica.formats.io;

import dev.arica.formats.CheckpointWriter;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.Tensor;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Streams tensors into a {@link CheckpointWriter} in order, casting chunks on worker threads while the
 * caller's thread writes the chunks already cast ({@link ChunkPipeline}). Tensors that need no cast are
 * written straight from their mapping.
 */
public final class CastPipeline implements AutoCloseable {
    /** Elements per chunk: a few MB, large enough for efficient writes, small enough to stay flat. */
    public static final int CHUNK_ELEMENTS = 1 << 20;

    /** Smallest pipeline buffer {@link #queueCast} needs: a chunk of the widest float type. */
    public static final long BUFFER_BYTES = CHUNK_ELEMENTS * 8L;

    private final CheckpointWriter writer;
    private final ChunkPipeline pipeline;

    public CastPipeline(CheckpointWriter writer, Progress progress) {
        this.writer = writer;
        this.pipeline = new ChunkPipeline(writer::write, progress, BUFFER_BYTES,
                ChunkPipeline.defaultThreads());
    }

    /** Writes {@code src} unchanged. */
    public void copy(Tensor src) throws IOException {
        pipeline.then(() -> writer.begin(src.name()));
        for (MemorySegment part : src.parts()) {
            pipeline.copy(part);
        }
    }

    /** Writes {@code src} cast to {@code to}, chunk by chunk. */
    public void cast(Tensor src, DType to) throws IOException {
        pipeline.then(() -> writer.begin(src.name()));
        queueCast(pipeline, src, to);
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
    }
}
