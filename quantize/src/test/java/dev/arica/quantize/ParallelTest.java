package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.quantize.Fixtures.Data;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;

/** Splitting rows across threads gives the sequential bytes and reports the sequential failure. */
class ParallelTest {

    @Test
    void parallelEqualsSequential() {
        int rows = 37;
        int cols = 300;
        try (Arena arena = Arena.ofShared(); ExecutorService pool = Executors.newFixedThreadPool(2)) {
            for (QuantLayout layout : Fixtures.LAYOUTS) {
                float[] x = Fixtures.data(Data.MIXED, layout, rows, cols, 11);
                MemorySegment src = Fixtures.segment(arena, x);
                Quantizer q = Quantizer.of(layout);
                MemorySegment seq = arena.allocate(layout.bytes(rows, cols));
                q.quantize(src, rows, cols, seq);
                for (int tasks : new int[] {1, 2, 5, 64}) {
                    MemorySegment par = arena.allocate(layout.bytes(rows, cols));
                    q.quantizeParallel(src, rows, cols, par, pool, tasks);
                    assertEquals(-1, seq.mismatch(par), layout.describe() + " tasks=" + tasks);
                    MemorySegment back = arena.allocate(4L * x.length);
                    q.dequantizeParallel(par, rows, cols, back, ForkJoinPool.commonPool(), tasks);
                    assertArrayEquals(Reference.dequantize(layout, Fixtures.bytes(seq), rows, cols),
                            Fixtures.floats(back, x.length), layout.describe() + " tasks=" + tasks);
                }
            }
        }
    }

    @Test
    void theEarliestFailureIsReported() {
        int rows = 40;
        int cols = 64;
        QuantLayout layout = Fixtures.LAYOUTS.get(1);
        try (Arena arena = Arena.ofShared(); ExecutorService pool = Executors.newFixedThreadPool(2)) {
            float[] x = Fixtures.data(Data.GAUSSIAN, layout, rows, cols, 2);
            x[35 * cols + 3] = Float.NaN; // last range
            x[12 * cols + 60] = Float.NEGATIVE_INFINITY; // second range of four
            x[12 * cols + 61] = Float.NaN;
            MemorySegment src = Fixtures.segment(arena, x);
            MemorySegment dst = arena.allocate(layout.bytes(rows, cols));
            QuantizationException e = assertThrows(QuantizationException.class,
                    () -> Quantizer.of(layout).quantizeParallel(src, rows, cols, dst, pool, 4));
            assertEquals(12L * cols + 60, e.index());
            assertEquals(Float.NEGATIVE_INFINITY, e.value());
        }
    }

    @Test
    void heapSegmentsGiveTheSameBytes() {
        int rows = 5;
        int cols = 172;
        for (QuantLayout layout : Fixtures.LAYOUTS) {
            float[] x = Fixtures.data(Data.GAUSSIAN, layout, rows, cols, 4);
            byte[] expected = Reference.quantize(layout, x, rows, cols);
            Quantizer q = Quantizer.of(layout);
            // float[]-backed (the Vector API cannot read it: scalar kernels) and byte[]-backed heap segments
            byte[] out1 = new byte[expected.length];
            q.quantize(MemorySegment.ofArray(x), rows, cols, MemorySegment.ofArray(out1));
            assertArrayEquals(expected, out1, layout.describe() + " float[] source");
            MemorySegment asBytes = MemorySegment.ofArray(new byte[4 * x.length]);
            MemorySegment.copy(MemorySegment.ofArray(x), 0, asBytes, 0, 4L * x.length);
            byte[] out2 = new byte[expected.length];
            q.quantize(asBytes, rows, cols, MemorySegment.ofArray(out2));
            assertArrayEquals(expected, out2, layout.describe() + " byte[] source");
            float[] back = new float[x.length];
            q.dequantize(MemorySegment.ofArray(out2), rows, cols, MemorySegment.ofArray(back));
            assertArrayEquals(Reference.dequantize(layout, expected, rows, cols), back, layout.describe());
        }
    }
}
