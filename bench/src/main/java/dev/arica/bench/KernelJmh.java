package dev.arica.bench;

import dev.arica.formats.FloatCast;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.quantize.ErrorStats;
import dev.arica.quantize.Quantizer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * JMH benchmarks of the quantization kernels on 32 MiB of float32 (N(0, 0.02), rows of 4096), next to a
 * memcpy of the same bytes measured in the same run: the machine primitive the figures are divided by in
 * docs/BENCHMARKS.md. Vector kernels run in forks with jdk.incubator.vector, scalar ones with
 * {@code -Darica.scalar=true}. Run with bench/kernels.sh.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(Scope.Thread)
public class KernelJmh {
    /** Elements per operation: 32 MiB of float32. */
    public static final long ELEMENTS = 8L << 20;
    static final long COLS = 4096;

    /** q8_0, q4_0, int8 (g128), int8a (g128 asymmetric), int4 (g32), int4a (g32 asymmetric). */
    @Param({"q8_0", "q4_0", "int8", "int8a", "int4", "int4a"})
    public String scheme;

    private Arena arena;
    private MemorySegment src;
    private MemorySegment packed;
    private MemorySegment back;
    private Quantizer quantizer;
    private long rows;

    static QuantLayout layout(String id) {
        boolean asym = id.endsWith("a");
        Scheme s = Scheme.parse(asym ? id.substring(0, id.length() - 1) : id).orElseThrow();
        return new QuantLayout(s, s.defaultGroup(), asym);
    }

    @Setup(Level.Trial)
    public void setUp() {
        arena = Arena.ofShared();
        rows = ELEMENTS / COLS;
        src = arena.allocate(ELEMENTS * 4, 64);
        SplittableRandom r = new SplittableRandom(42);
        for (long i = 0; i < ELEMENTS; i++) {
            src.setAtIndex(FloatCast.F32_LE, i, (float) (gaussian(r) * 0.02));
        }
        quantizer = Quantizer.of(layout(scheme));
        packed = arena.allocate(quantizer.layout().bytes(rows, COLS), 64);
        back = arena.allocate(ELEMENTS * 4, 64);
        quantizer.quantize(src, rows, COLS, packed);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r.nextDouble());
    }

    @Benchmark
    public MemorySegment quantize() {
        quantizer.quantize(src, rows, COLS, packed);
        return packed;
    }

    /** What {@code arica quantize} runs: quantizing with the error of every element measured in the same pass. */
    @Benchmark
    public ErrorStats quantizeMeasured() {
        ErrorStats e = new ErrorStats();
        quantizer.quantizeRows(src, packed, COLS, 0, rows, e, 0);
        return e;
    }

    @Benchmark
    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Darica.scalar=true"})
    public ErrorStats quantizeMeasuredScalar() {
        ErrorStats e = new ErrorStats();
        quantizer.quantizeRows(src, packed, COLS, 0, rows, e, 0);
        return e;
    }

    @Benchmark
    public MemorySegment dequantize() {
        quantizer.dequantize(packed, rows, COLS, back);
        return back;
    }

    @Benchmark
    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Darica.scalar=true"})
    public MemorySegment quantizeScalar() {
        quantizer.quantize(src, rows, COLS, packed);
        return packed;
    }

    @Benchmark
    @Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "-Darica.scalar=true"})
    public MemorySegment dequantizeScalar() {
        quantizer.dequantize(packed, rows, COLS, back);
        return back;
    }

    /** The error measurement quantize runs on every element (source vs dequantized). */
    @Benchmark
    public ErrorStats errorStats() {
        ErrorStats e = new ErrorStats();
        e.add(src, back, ELEMENTS, 0);
        return e;
    }

    /** The machine primitive: copying the 32 MiB of float32 once. */
    @Benchmark
    public MemorySegment memcpy() {
        MemorySegment.copy(src, 0, back, 0, ELEMENTS * 4);
        return back;
    }
}
