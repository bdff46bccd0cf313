package dev.arica.formats.io;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Starts writing outputs back to disk while they are still being written: every few tens of MB a
 * background thread flushes what an open output file holds so far ({@code fdatasync}), so that the flush
 * before publishing ({@link AtomicOutput#commit()}) waits for the tail only instead of the whole file.
 */
final class WriteBehind {
    /** Bytes an output grows by between two background flushes. */
    static final long STEP = 64L << 20;
    private static final long PERIOD_MS = 50;

    /** Open output files and the size each had at its last flush. */
    private static final Map<FileChannel, Long> FLUSHED = new ConcurrentHashMap<>();
    /** Where each watched channel writes. */
    private static final Map<FileChannel, Path> FILES = new ConcurrentHashMap<>();
    /**
     * A background flush that failed (EIO, ENOSPC): Linux reports a write-back error once per open file, so
     * the flush at commit, on a new descriptor, might not see it again; {@link #check} throws it there.
     */
    private static final Map<Path, IOException> FAILED = new ConcurrentHashMap<>();
    private static final ScheduledExecutorService FLUSHER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "arica-write-behind");
        t.setDaemon(true);
        return t;
    });

    static {
        FLUSHER.scheduleWithFixedDelay(WriteBehind::flush, PERIOD_MS, PERIOD_MS, TimeUnit.MILLISECONDS);
    }

    private WriteBehind() {}

    /** Flushes {@code channel}, which writes {@code file}, in the background as it grows, until it is closed. */
    static void watch(Path file, FileChannel channel) {
        FILES.put(channel, file.toAbsolutePath().normalize());
        FLUSHED.put(channel, 0L);
    }

    /** Throws the error a background flush of {@code file} met, if any. */
    static void check(Path file) throws IOException {
        IOException e = FAILED.remove(file.toAbsolutePath().normalize());
        if (e != null) {
            throw e;
        }
    }

    private static void forget(FileChannel ch) {
        FLUSHED.remove(ch);
        FILES.remove(ch);
    }

    /** Whether {@code channel} is watched: open, and its flushes have not failed (a closed one until the next round). */
    static boolean watching(FileChannel channel) {
        return FLUSHED.containsKey(channel);
    }

    private static void flush() {
        for (Map.Entry<FileChannel, Long> e : FLUSHED.entrySet()) {
            FileChannel ch = e.getKey();
            try {
                long size = ch.size();
                if (size - e.getValue() >= STEP) {
                    ch.force(false);
                    e.setValue(size);
                }
            } catch (ClosedChannelException | RuntimeException closed) {
                // Closed (written or abandoned) meanwhile: the commit flushes whatever is left.
                forget(ch);
            } catch (IOException failed) {
                Path file = FILES.get(ch);
                if (file != null) {
                    FAILED.putIfAbsent(file, failed);
                }
                forget(ch);
            }
            if (!ch.isOpen()) {
                forget(ch);
            }
        }
    }
}
