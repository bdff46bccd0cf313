package dev.arica.formats.io;

import java.io.IOException;
import java.nio.channels.FileChannel;
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
    private static final ScheduledExecutorService FLUSHER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "arica-write-behind");
        t.setDaemon(true);
        return t;
    });

    static {
        FLUSHER.scheduleWithFixedDelay(WriteBehind::flush, PERIOD_MS, PERIOD_MS, TimeUnit.MILLISECONDS);
    }

    private WriteBehind() {}

    /** Flushes {@code channel} in the background as it grows, until it is closed. */
    static void watch(FileChannel channel) {
        FLUSHED.put(channel, 0L);
    }

    /** Output files being watched: open ones, and closed ones until the next round notices. */
    static int watched() {
        return FLUSHED.size();
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
            } catch (IOException | RuntimeException closed) {
                // Closed (written or abandoned) meanwhile: the commit flushes whatever is left.
                FLUSHED.remove(ch);
            }
            if (!ch.isOpen()) {
                FLUSHED.remove(ch);
            }
        }
    }
}
