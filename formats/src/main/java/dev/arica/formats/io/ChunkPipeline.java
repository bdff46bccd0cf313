package dev.arica.formats.io;

import dev.arica.formats.Progress;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * Runs chunk transformations (cast, quantize, dequantize) on worker threads while the caller's thread
 * writes the finished chunks in submission order. Memory is a fixed ring of off-heap buffers, so the
 * footprint does not depend on the size of the model: at most {@code threads + 2} chunks are in flight.
 *
 * <p>Ordered actions ({@link #then}) run on the caller's thread after every chunk submitted before them was
 * written: starting or ending a tensor, or writing a mapped tensor unchanged.
 */
public final class ChunkPipeline implements AutoCloseable {

    /** Fills a buffer of the pipeline and returns the bytes to write: a slice of {@code buffer}. */
    @FunctionalInterface
    public interface Job {
        MemorySegment run(MemorySegment buffer) throws Exception;
    }

    /** An I/O step run in order on the caller's thread. */
    @FunctionalInterface
    public interface Action {
        void run() throws IOException;
    }

    /** Where finished chunks go. */
    @FunctionalInterface
    public interface Sink {
        void write(MemorySegment bytes) throws IOException;
    }

    /** Bytes copied at once by {@link #copy} (at most a buffer). */
    static final long COPY_SLICE = 4L << 20;

    private final Sink sink;
    private final Progress progress;
    private final long bufferBytes;
    private final int depth;
    private final Arena arena = Arena.ofShared();
    private final ExecutorService workers;
    private final ArrayDeque<MemorySegment> free = new ArrayDeque<>();
    private final ArrayDeque<Pending> queue = new ArrayDeque<>();

    /** A chunk being computed ({@code result} set) or an action; {@code consumed} is released once written. */
    private record Pending(Future<MemorySegment> result, MemorySegment buffer, MemorySegment consumed, long advance,
            Action action) {}

    /**
     * @param bufferBytes size of each buffer handed to a {@link Job}
     * @param threads worker threads (the caller's thread only writes)
     */
    public ChunkPipeline(Sink sink, Progress progress, long bufferBytes, int threads) {
        this(sink, progress, bufferBytes, threads, 0);
    }

    /**
     * @param workerNice how much lower than the caller's the workers' scheduling priority is (a nice increment, Linux
     *     only; 0 for the same): for a run whose critical path is a sequential thread of its own (see
     *     {@link ThreadNice})
     */
    public ChunkPipeline(Sink sink, Progress progress, long bufferBytes, int threads, int workerNice) {
        if (threads < 1 || bufferBytes < 1 || workerNice < 0) {
            throw new IllegalArgumentException("threads " + threads + ", buffer " + bufferBytes + ", nice " + workerNice);
        }
        this.sink = sink;
        this.progress = progress;
        this.bufferBytes = bufferBytes;
        this.depth = threads + 2;
        this.workers = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(workerNice == 0 ? r : () -> {
                ThreadNice.lower(workerNice);
                r.run();
            }, "arica-chunk");
            t.setDaemon(true);
            return t;
        });
    }

    /** Threads to use by default: one per core. */
    public static int defaultThreads() {
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /**
     * Queues a chunk. {@code consumed}, when not null, is the mapped input the job reads: its pages are
     * released once the chunk is written, so resident memory stays flat; {@code advance} bytes are then
     * reported to the progress.
     */
    public void submit(Job job, MemorySegment consumed, long advance) throws IOException {
        MemorySegment buffer = takeBuffer();
        Future<MemorySegment> f = workers.submit(() -> job.run(buffer));
        queue.add(new Pending(f, buffer, consumed, advance, null));
    }

    /**
     * Queues bytes of a mapped input to be written unchanged. They are copied into the pipeline's buffers
     * on the workers first: write(2) straight from a file mapping faults every source page in the kernel
     * and ran at a quarter of cp's speed here, while a user-space copy of the same pages is cheap. Each
     * slice's pages are released once written, so a large tensor never becomes resident as a whole.
     */
    public void copy(MemorySegment mapped) throws IOException {
        long slice = Math.min(COPY_SLICE, bufferBytes);
        for (long off = 0; off < mapped.byteSize(); off += slice) {
            MemorySegment part = mapped.asSlice(off, Math.min(slice, mapped.byteSize() - off));
            submit(buffer -> {
                MemorySegment out = buffer.asSlice(0, part.byteSize());
                MemorySegment.copy(part, 0, out, 0, part.byteSize());
                return out;
            }, part, part.byteSize());
        }
    }

    /** Queues an action to run after everything queued so far is written. */
    public void then(Action action) throws IOException {
        queue.add(new Pending(null, null, null, 0, action));
        while (queue.size() > depth) {
            finishOldest();
        }
    }

    /** Writes and runs everything still queued. */
    public void drain() throws IOException {
        while (!queue.isEmpty()) {
            finishOldest();
        }
    }

    private MemorySegment takeBuffer() throws IOException {
        while (free.isEmpty() && queue.size() >= depth) {
            finishOldest();
        }
        return free.isEmpty() ? arena.allocate(bufferBytes, 64) : free.pop();
    }

    private void finishOldest() throws IOException {
        Pending p = queue.poll();
        if (p.action() != null) {
            p.action().run();
            return;
        }
        MemorySegment out;
        try {
            out = p.result().get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted");
        } catch (ExecutionException e) {
            switch (e.getCause()) {
                case IOException io -> throw io;
                case RuntimeException r -> throw r;
                case Error err -> throw err;
                default -> throw new IOException(e.getCause());
            }
        }
        sink.write(out);
        if (p.consumed() != null) {
            MappedMemory.release(p.consumed());
        }
        progress.advance(p.advance());
        free.push(p.buffer());
    }

    @Override
    public void close() {
        workers.shutdownNow();
        try {
            // Jobs may still touch buffers; the arena closes only after they stopped.
            if (!workers.awaitTermination(1, TimeUnit.MINUTES)) {
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        arena.close();
    }
}
