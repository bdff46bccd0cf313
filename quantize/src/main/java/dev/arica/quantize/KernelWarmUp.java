package dev.arica.quantize;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;

/**
 * Gets the kernels of a quantizer compiled before real data reaches them. Until C2 has compiled them, Vector
 * API kernels run as plain Java at a few MB/s (measured: about 1 s from JVM start on this project's
 * machines), so a fresh process would push its first chunks through that slow path on every worker. Calls
 * on a tiny block reach the compile thresholds at a negligible cost in data, while the caller's thread
 * starts writing the tensors that need no kernel.
 */
final class KernelWarmUp {
    /** Enough calls to pass C2's invocation and back-edge thresholds; each on a 2 KB block. */
    private static final int CALLS = 6000;
    private static final int ROWS = 2;
    private static final int COLS = 256;

    private final CountDownLatch done = new CountDownLatch(1);

    private KernelWarmUp() {}

    /** Starts warming {@code q}'s kernels (and the error measurement) on a thread of its own. */
    static KernelWarmUp start(Quantizer q) {
        KernelWarmUp w = new KernelWarmUp();
        if (!Quantizer.vectorized()) {
            w.done.countDown();
            return w;
        }
        Thread.ofPlatform().name("arica-warm-up").daemon().start(() -> {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment src = arena.allocate((long) ROWS * COLS * 4, 64);
                SplittableRandom r = new SplittableRandom(1);
                for (long i = 0; i < (long) ROWS * COLS; i++) {
                    src.setAtIndex(Kernels.F32, i, (float) r.nextGaussian());
                }
                MemorySegment packed = arena.allocate(q.layout().bytes(ROWS, COLS), 64);
                MemorySegment back = arena.allocate((long) ROWS * COLS * 4, 64);
                for (int i = 0; i < CALLS; i++) {
                    q.quantizeRows(src, packed, COLS, 0, ROWS);
                    q.dequantizeRows(packed, back, COLS, 0, ROWS);
                    new ErrorStats().add(src, back, (long) ROWS * COLS, 0);
                }
            } finally {
                w.done.countDown();
            }
        });
        return w;
    }

    /** Waits until the warm-up is over (returns at once after it). */
    void await() throws InterruptedException {
        done.await();
    }
}
