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

    private final Thread thread;
    private final CompletableFuture<List<FileDigest.Digest>> result = new CompletableFuture<>();

    private SourceHasher(List<Path> files, Path cacheDir) {
        thread = Thread.ofPlatform().name("arica-sha256").daemon().unstarted(() -> {
            try {
                List<FileDigest.Digest> out = new ArrayList<>();
                for (Path f : files) {
                    out.add(FileDigest.sha256(f, cacheDir));
                }
                result.complete(out);
            } catch (IOException | RuntimeException e) {
                result.completeExceptionally(e);
            }
        });
    }

    /** Starts hashing {@code files}; {@code cacheDir} as for {@link FileDigest#sha256}. */
    static SourceHasher start(List<Path> files, Path cacheDir) {
        SourceHasher h = new SourceHasher(List.copyOf(files), cacheDir);
        h.thread.start();
        return h;
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
        thread.interrupt();
    }
}
