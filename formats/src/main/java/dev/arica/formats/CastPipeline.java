package dev.arica.formats;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Streams tensors into a {@link CheckpointWriter} in order, casting chunks on worker threads while the
 * caller's thread writes the chunks already cast. Memory is a fixed ring of small off-heap buffers.
 * Tensors that need no cast are written straight from their mapping.
 */
final class CastPipeline implements AutoCloseable {
    /** Elements per chunk: a few MB, large enough for efficient writes, small enough to stay flat. */
    static final int CHUNK_ELEMENTS = 1 << 20;

    private final CheckpointWriter writer;
    private final Progress progress;
    private final int depth;
    private final Arena arena = Arena.ofShared();
    private final ExecutorService workers;
    private final ArrayDeque<MemorySegment> free = new ArrayDeque<>();
    private final ArrayDeque<Pending> inFlight = new ArrayDeque<>();

    /** A chunk being cast; when {@code begin} is set the chunk starts that tensor. */
    private record Pending(String begin, MemorySegment buffer, Future<MemorySegment> result, MemorySegment source) {}

    CastPipeline(CheckpointWriter writer, Progress progress) {
        this.writer = writer;
        this.progress = progress;
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
        this.depth = threads + 2;
        this.workers = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "arica-cast");
            t.setDaemon(true);
            return t;
        });
    }

    /** Writes {@code src} unchanged. */
    void copy(Tensor src) throws IOException {
        drain();
        writer.writeTensor(src);
        for (MemorySegment part : src.parts()) {
            MappedMemory.release(part);
        }
        progress.advance(src.info().byteSize());
    }

    /** Writes {@code src} cast to {@code to}, chunk by chunk. */
    void cast(Tensor src, DType to) throws IOException {
        DType from = src.info().dtype();
        String begin = src.name();
        if (src.info().elements() == 0) {
            drain();
            writer.begin(begin);
            return;
        }
        for (MemorySegment part : src.parts()) {
            long n = part.byteSize() / from.byteSize();
            for (long e = 0; e < n; e += CHUNK_ELEMENTS) {
                long m = Math.min(CHUNK_ELEMENTS, n - e);
                MemorySegment in = part.asSlice(from.bytesFor(e), from.bytesFor(m));
                MemorySegment buffer = takeBuffer();
                MemorySegment out = buffer.asSlice(0, to.bytesFor(m));
                Future<MemorySegment> f = workers.submit(() -> {
                    FloatCast.cast(from, in, to, out, m);
                    return out;
                });
                inFlight.add(new Pending(begin, buffer, f, in));
                begin = null;
            }
        }
    }

    private MemorySegment takeBuffer() throws IOException {
        while (free.isEmpty() && inFlight.size() >= depth) {
            writeOldest();
        }
        return free.isEmpty() ? arena.allocate((long) CHUNK_ELEMENTS * 8, 64) : free.pop();
    }

    private void writeOldest() throws IOException {
        Pending p = inFlight.poll();
        MemorySegment out;
        try {
            out = p.result().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while casting");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(e.getCause());
        }
        if (p.begin() != null) {
            writer.begin(p.begin());
        }
        writer.write(out);
        MappedMemory.release(p.source());
        progress.advance(out.byteSize());
        free.push(p.buffer());
    }

    /** Writes every chunk still in flight. */
    void drain() throws IOException {
        while (!inFlight.isEmpty()) {
            writeOldest();
        }
    }

    @Override
    public void close() {
        workers.shutdownNow();
        try {
            workers.awaitTermination(1, java.util.concurrent.TimeUnit.MINUTES);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        arena.close();
    }
}
