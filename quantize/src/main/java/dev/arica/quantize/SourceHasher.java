package dev.arica.quantize;

import dev.arica.formats.io.FileDigest;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * SHA-256 of the source files for the provenance, computed on a thread of its own while the conversion
 * runs: hashing reads the files once more (from the page cache, through a small buffer, so it adds no
 * resident memory) and would otherwise add its whole time to the run. Digests of unchanged files come
 * from the cache ({@link FileDigest}).
 */
final class SourceHasher implements AutoCloseable {

    /**
     * How much lower the quantizing workers' scheduling priority is while a source is hashed (a nice increment): the
     * hash is one sequential stream, the run's critical path, and with the workers at the same priority it got under half
     * a core of 2 (a first q4_0 run of the 2 GB model: 3.9-4.5 s, with the workers lowered 3.3-4.0 s; docs/BENCHMARKS.md).
     */
    static final int WORKER_NICE_WHILE_HASHING = 10;

    /** The hashing thread; null when every digest came from the cache. */
    private final Thread thread;
    private final CompletableFuture<List<FileDigest.Digest>> result = new CompletableFuture<>();

    /** {@code known}: each file's cached digest, or null where it has to be computed. */
    private SourceHasher(List<Path> files, Path cacheDir, List<FileDigest.Digest> known) {
        if (!known.contains(null)) {
            thread = null;
            result.complete(known);
            return;
        }
        thread = Thread.ofPlatform().name("arica-sha256").daemon().unstarted(() -> {
            try {
                List<FileDigest.Digest> out = new ArrayList<>();
                for (int i = 0; i < files.size(); i++) {
                    out.add(known.get(i) != null ? known.get(i) : FileDigest.sha256(files.get(i), cacheDir));
                }
                result.complete(out);
            } catch (IOException | RuntimeException e) {
                result.completeExceptionally(e);
            }
        });
    }

    /** Starts hashing {@code files}; {@code cacheDir} as for {@link FileDigest#sha256}. */
    static SourceHasher start(List<Path> files, Path cacheDir) throws IOException {
        List<FileDigest.Digest> known = new ArrayList<>();
        for (Path f : files) {
            known.add(FileDigest.cached(f, cacheDir).orElse(null));
        }
        SourceHasher h = new SourceHasher(List.copyOf(files), cacheDir, known);
        if (h.thread != null) {
            h.thread.start();
        }
        return h;
    }

    /** The nice increment for the workers of a run beside this hash: {@link #WORKER_NICE_WHILE_HASHING} or 0 when cached. */
    int workerNice() {
        return thread != null ? WORKER_NICE_WHILE_HASHING : 0;
    }

    /** Waits for the digests. */
    List<FileDigest.Digest> digests() throws IOException {
        try {
            return result.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while hashing the sources");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IOException io) {
                throw io;
            }
            throw new IllegalStateException(e.getCause());
        }
    }

    @Override
    public void close() {
        if (thread != null) {
            thread.interrupt();
        }
    }
}
