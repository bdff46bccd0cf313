package dev.arica.quantize;

import dev.arica.formats.FloatCast;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Rough kernel throughput in GB/s of float32 input (not a JMH benchmark): quantize and dequantize of about
 * 256 MB of Gaussian data per scheme, scalar and vector, one thread and {@code threads} threads.
 *
 * <pre>java --add-modules jdk.incubator.vector -cp ... dev.arica.quantize.KernelBench [MB] [threads] [reps]</pre>
 */
public final class KernelBench {
    private KernelBench() {}

    public static void main(String[] args) throws Exception {
        long mb = args.length > 0 ? Long.parseLong(args[0]) : 256;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        int reps = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        long cols = 4096;
        long rows = mb * 1024 * 1024 / 4 / cols;
        long n = rows * cols;
        System.out.printf(Locale.ROOT, "%d x %d float32 (%.0f MB), vector API preferred %s, %d threads%n", rows, cols,
                n * 4 / 1e6, Quantizer.vectorized() ? VectorKernels.F.toString() : "off", threads);
        try (Arena arena = Arena.ofShared(); ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            MemorySegment src = arena.allocate(n * 4, 64);
            SplittableRandom rnd = new SplittableRandom(1);
            for (long i = 0; i < n; i++) {
                src.setAtIndex(FloatCast.F32_LE, i, (float) (gaussian(rnd) * 0.02));
            }
            MemorySegment back = arena.allocate(n * 4, 64);
            QuantLayout[] layouts = {QuantLayout.of(Scheme.Q8_0), QuantLayout.of(Scheme.Q4_0),
                QuantLayout.of(Scheme.INT8), new QuantLayout(Scheme.INT8, 128, true), QuantLayout.of(Scheme.INT4),
                new QuantLayout(Scheme.INT4, 32, true)};
            time("firstNonFinite vector", n * 4, reps, () -> VectorKernels.firstNonFinite(src, n));
            time("firstNonFinite scalar", n * 4, reps, () -> Kernels.scalarFirstNonFinite(src, 0, n));
            for (QuantLayout layout : layouts) {
                MemorySegment dst = arena.allocate(layout.bytes(rows, cols), 64);
                Quantizer q = Quantizer.of(layout);
                String name = layout.describe();
                time(name + " quantize scalar  1t", n * 4, reps, () -> Fixtures.quantize(Fixtures.Path.SCALAR, layout,
                        src, rows, cols, dst));
                time(name + " quantize vector  1t", n * 4, reps, () -> Fixtures.quantize(Fixtures.Path.VECTOR,
                        layout, src, rows, cols, dst));
                time(name + " quantize public " + threads + "t", n * 4, reps,
                        () -> q.quantizeParallel(src, rows, cols, dst, pool, threads));
                time(name + " dequant  scalar  1t", n * 4, reps, () -> Fixtures.dequantize(Fixtures.Path.SCALAR,
                        layout, dst, rows, cols, back));
                time(name + " dequant  vector  1t", n * 4, reps, () -> Fixtures.dequantize(Fixtures.Path.VECTOR,
                        layout, dst, rows, cols, back));
                time(name + " dequant  public " + threads + "t", n * 4, reps,
                        () -> q.dequantizeParallel(dst, rows, cols, back, pool, threads));
                ErrorStats e = new ErrorStats();
                long t0 = System.nanoTime();
                e.add(src, back, n, 0);
                System.out.printf(Locale.ROOT, "  %-34s %7.2f GB/s   %s%n", name + " error stats 1t",
                        n * 8 / ((System.nanoTime() - t0) / 1e9) / 1e9, e);
            }
        }
    }

    private static double gaussian(SplittableRandom r) {
        double u = r.nextDouble();
        double v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    private static void time(String what, long bytes, int reps, Runnable r) {
        r.run(); // warm-up
        double best = Double.MAX_VALUE;
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            r.run();
            best = Math.min(best, (System.nanoTime() - t0) / 1e9);
        }
        System.out.printf(Locale.ROOT, "  %-34s %7.2f GB/s%n", what, bytes / best / 1e9);
    }
}
