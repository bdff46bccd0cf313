package dev.arica.quantize;

import dev.arica.formats.quant.QuantLayout;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Quantizes rows of little-endian float32 into the stored layout of a {@link QuantLayout} (see
 * {@link dev.arica.formats.quant.Scheme}) and dequantizes them back.
 *
 * <p>A tensor is {@code rows} rows of {@code cols} elements; its stored form is {@code layout.bytes(rows, cols)}
 * bytes, row after row ({@code layout.rowBytes(cols)} each). Rows are independent: {@link #quantizeRows} and
 * {@link #dequantizeRows} do a range of rows of a whole tensor, so callers may split the work; indexes in a
 * {@link QuantizationException} count from the start of the source segment.
 *
 * <p>Input containing NaN or an infinity is refused with a {@link QuantizationException} naming the first
 * offending element, and so is a group whose scale would round to infinity in fp16. Groups are visited in
 * order, so the exception is about the first bad group of the range; the destination rows before it are
 * written, the rest are unspecified.
 *
 * <p>The vector kernels (jdk.incubator.vector, preferred species) and the scalar kernels give identical bytes;
 * {@code -Darica.scalar=true} forces the scalar ones, and they are used as well when the Vector API module is
 * not resolved or for heap segments not backed by {@code byte[]}.
 */
public sealed interface Quantizer permits Q8_0Quantizer, Q4_0Quantizer, IntQuantizer, CalibratedQuantizer {

    /** The quantizer for a layout. */
    static Quantizer of(QuantLayout layout) {
        return switch (layout.scheme()) {
            case Q8_0 -> new Q8_0Quantizer();
            case Q4_0 -> new Q4_0Quantizer();
            case INT8, INT4 -> new IntQuantizer(layout);
        };
    }

    /** Whether the vector kernels are in use in this JVM. */
    static boolean vectorized() {
        return Kernels.VECTOR;
    }

    QuantLayout layout();

    /**
     * Quantizes {@code rows} rows of {@code cols} float32 from {@code srcF32} into {@code dst}
     * ({@code layout().bytes(rows, cols)} bytes).
     */
    default void quantize(MemorySegment srcF32, long rows, long cols, MemorySegment dst) {
        quantizeRows(srcF32, dst, cols, 0, rows);
    }

    /**
     * Quantizes rows {@code [fromRow, toRow)} of a tensor whose row {@code r} starts at byte {@code r * cols * 4}
     * of {@code srcF32} and at byte {@code r * layout().rowBytes(cols)} of {@code dst}.
     */
    void quantizeRows(MemorySegment srcF32, MemorySegment dst, long cols, long fromRow, long toRow);

    /**
     * {@link #quantizeRows}, adding to {@code error} the error of every stored value (as {@link #dequantizeRows} gives
     * it back) against its source element, element {@code c} of row {@code r} at flat index
     * {@code indexBase + r * cols + c}. The same bytes as {@link #quantizeRows}; the round-to-nearest schemes measure
     * in the quantizing kernel itself, while each group is in registers.
     */
    default void quantizeRows(MemorySegment srcF32, MemorySegment dst, long cols, long fromRow, long toRow,
            ErrorStats error, long indexBase) {
        quantizeRows(srcF32, dst, cols, fromRow, toRow);
        Kernels.measureRows(this, srcF32, dst, cols, fromRow, toRow, error, indexBase);
    }

    /** Dequantizes {@code rows} rows of {@code cols} elements into float32 (padding dropped). */
    default void dequantize(MemorySegment stored, long rows, long cols, MemorySegment dstF32) {
        dequantizeRows(stored, dstF32, cols, 0, rows);
    }

    /** Dequantizes rows {@code [fromRow, toRow)}; offsets as in {@link #quantizeRows}. */
    void dequantizeRows(MemorySegment stored, MemorySegment dstF32, long cols, long fromRow, long toRow);

    /**
     * {@link #quantize} with the rows split into {@code tasks} contiguous ranges run on {@code pool}; returns
     * when all are done. The segments must be accessible from the pool's threads (global, auto or shared
     * arena, or mapped). When several ranges fail, the exception of the first range is thrown, so the report
     * is the same as a sequential run's.
     */
    default void quantizeParallel(MemorySegment srcF32, long rows, long cols, MemorySegment dst, ExecutorService pool,
            int tasks) {
        Kernels.checkQuantizeArgs(this, srcF32, dst, cols, 0, rows);
        runParallel(rows, tasks, pool, (from, to) -> quantizeRows(srcF32, dst, cols, from, to));
    }

    /** {@link #dequantize} split like {@link #quantizeParallel}. */
    default void dequantizeParallel(MemorySegment stored, long rows, long cols, MemorySegment dstF32,
            ExecutorService pool, int tasks) {
        Kernels.checkDequantizeArgs(this, stored, dstF32, cols, 0, rows);
        runParallel(rows, tasks, pool, (from, to) -> dequantizeRows(stored, dstF32, cols, from, to));
    }

    /** Flat index of the first NaN or infinity among {@code count} float32 of {@code f32}, or -1. */
    static long firstNonFinite(MemorySegment f32, long count) {
        if (count < 0 || f32.byteSize() < Math.multiplyExact(count, 4L)) {
            throw new IllegalArgumentException(count + " float32 do not fit in " + f32.byteSize() + " bytes");
        }
        if (Kernels.useVector(f32, f32)) {
            return VectorKernels.firstNonFinite(f32, count);
        }
        return Kernels.scalarFirstNonFinite(f32, 0, count);
    }

    /** A range of rows. */
    @FunctionalInterface
    interface RowTask {
        void run(long fromRow, long toRow);
    }

    /**
     * Runs {@code task} over {@code rows} rows split into at most {@code tasks} contiguous ranges on
     * {@code pool}, waiting for all; rethrows the failure of the earliest range.
     */
    static void runParallel(long rows, int tasks, ExecutorService pool, RowTask task) {
        int n = (int) Math.max(1, Math.min(tasks, rows));
        if (n == 1) {
            task.run(0, rows);
            return;
        }
        Future<?>[] futures = new Future<?>[n];
        for (int t = 0; t < n; t++) {
            long from = rows * t / n;
            long to = rows * (t + 1) / n;
            futures[t] = pool.submit(() -> task.run(from, to));
        }
        Throwable first = null;
        boolean interrupted = false;
        for (Future<?> f : futures) {
            while (true) {
                try {
                    f.get();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // finish waiting: the ranges still write into the caller's segments
                } catch (ExecutionException e) {
                    if (first == null) {
                        first = e.getCause();
                    }
                    break;
                } catch (CancellationException e) {
                    if (first == null) {
                        first = e;
                    }
                    break;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (first instanceof RuntimeException re) {
            throw re;
        }
        if (first instanceof Error err) {
            throw err;
        }
        if (first != null) {
            throw new IllegalStateException(first);
        }
    }
}
