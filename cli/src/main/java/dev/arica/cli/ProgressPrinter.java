package dev.arica.cli;

import dev.arica.formats.Progress;
import dev.arica.formats.io.ByteSize;
import java.io.PrintWriter;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Progress on stderr for work that lasts more than a second: a bar redrawn in place on a terminal,
 * otherwise a plain line every few seconds. Silent for quick work.
 */
final class ProgressPrinter implements Progress {
    private static final long QUIET_NANOS = 1_000_000_000L;
    private static final long LINE_INTERVAL_NANOS = 5_000_000_000L;
    private static final long BAR_INTERVAL_NANOS = 100_000_000L;

    private final PrintWriter err;
    private final boolean terminal;
    private final AtomicLong done = new AtomicLong();
    private volatile String task = "";
    private volatile long total;
    private volatile long started;
    private long lastPrint;
    private boolean printed;

    ProgressPrinter(PrintWriter err, boolean terminal) {
        this.err = err;
        this.terminal = terminal;
    }

    static ProgressPrinter forStderr(PrintWriter err) {
        java.io.Console c = System.console();
        return new ProgressPrinter(err, c != null && c.isTerminal());
    }

    @Override
    public void start(String task, long totalBytes) {
        this.task = task;
        this.total = totalBytes;
        this.done.set(0);
        this.started = System.nanoTime();
        this.lastPrint = started;
        this.printed = false;
    }

    @Override
    public void advance(long bytes) {
        long d = done.addAndGet(bytes);
        long now = System.nanoTime();
        if (now - started < QUIET_NANOS) {
            return;
        }
        synchronized (this) {
            long interval = terminal ? BAR_INTERVAL_NANOS : LINE_INTERVAL_NANOS;
            if (printed && now - lastPrint < interval) {
                return;
            }
            lastPrint = now;
            printed = true;
            print(d, now, false);
        }
    }

    @Override
    public synchronized void finish() {
        if (printed) {
            print(done.get(), System.nanoTime(), true);
        }
    }

    private void print(long d, long now, boolean last) {
        double seconds = (now - started) / 1e9;
        double pct = total == 0 ? 100 : 100.0 * d / total;
        String rate = ByteSize.format((long) (d / Math.max(seconds, 1e-9))) + "/s";
        String text = String.format(Locale.ROOT, "%s: %5.1f%% %s of %s, %s", task, pct, ByteSize.format(d),
                ByteSize.format(total), rate);
        if (terminal) {
            int width = 30;
            int filled = (int) Math.round(width * Math.min(pct, 100) / 100);
            err.print("\r[" + "#".repeat(filled) + " ".repeat(width - filled) + "] " + text);
            if (last) {
                err.println();
            }
        } else {
            err.println(text);
        }
        err.flush();
    }
}
