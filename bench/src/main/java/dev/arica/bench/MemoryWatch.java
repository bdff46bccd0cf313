package dev.arica.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Peak memory of a measured section. Heap: the JVM's per-pool peak usage (reset at start), summed over the
 * heap pools, which bounds the true peak from above. Anonymous RSS (private memory: heap, native and
 * direct buffers, not the page cache behind a file mapping): sampled from /proc/self/status every
 * {@value #SAMPLE_MS} ms by a daemon thread, so a lower bound; -1 where /proc is not there.
 */
final class MemoryWatch implements AutoCloseable {

    static final long SAMPLE_MS = 2;
    private static final Path STATUS = Path.of("/proc/self/status");

    private final List<MemoryPoolMXBean> heapPools;
    private final Thread sampler;
    private volatile boolean running = true;
    private volatile long peakAnon = -1;

    MemoryWatch() {
        heapPools = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP && p.isValid())
                .toList();
        heapPools.forEach(MemoryPoolMXBean::resetPeakUsage);
        sampleAnon();
        sampler = Thread.ofPlatform().daemon().name("rss-sampler").start(() -> {
            while (running) {
                sampleAnon();
                try {
                    Thread.sleep(SAMPLE_MS);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
    }

    /** Sum over heap pools of each pool's peak use since construction, in bytes. */
    long peakHeap() {
        long sum = 0;
        for (MemoryPoolMXBean p : heapPools) {
            sum += p.getPeakUsage().getUsed();
        }
        return sum;
    }

    /** Heap in use now, in bytes. */
    static long heapUsed() {
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    /** The largest anonymous RSS sampled so far, in bytes; -1 when unknown. */
    long peakAnonRss() {
        sampleAnon();
        return peakAnon;
    }

    /** The process's peak resident set (VmHWM), file-backed pages included; -1 when unknown. */
    static long peakRss() {
        return statusKb("VmHWM:");
    }

    private void sampleAnon() {
        long a = statusKb("RssAnon:");
        if (a > peakAnon) {
            peakAnon = a;
        }
    }

    private static long statusKb(String key) {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith(key)) {
                    String v = line.substring(key.length()).trim();
                    return Long.parseLong(v.substring(0, v.indexOf(' '))) * 1024;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    @Override
    public void close() {
        running = false;
        sampler.interrupt();
    }
}
