package dev.arica.runtime.export;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.quantize.Quantizer;
import java.io.ByteArrayOutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.SplittableRandom;

/** The bytes a plane writer hands to its sink, gathered for the tests of the repacking. */
final class PlaneBytes {
    static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    interface Writes {
        void to(MatMulNBitsWeights.Sink sink) throws Exception;
    }

    /** A tensor as the quantizer stores it, and the float32 values its dequantizer gives back. */
    record Stored(MemorySegment stored, MemorySegment expected) {}

    private PlaneBytes() {}

    /** [n, k] seeded random values, quantized in {@code layout} and dequantized again, in {@code arena}. */
    static Stored quantizeRandom(Arena arena, QuantLayout layout, long n, long k, long seed) {
        MemorySegment x = arena.allocate(n * k * 4);
        SplittableRandom r = new SplittableRandom(seed);
        for (long i = 0; i < n * k; i++) {
            x.setAtIndex(F32, i, (float) ((r.nextDouble() - 0.3) * 0.1));
        }
        Quantizer q = Quantizer.of(layout);
        MemorySegment stored = arena.allocate(layout.bytes(n, k));
        q.quantize(x, n, k, stored);
        MemorySegment expected = arena.allocate(n * k * 4);
        q.dequantize(stored, n, k, expected);
        return new Stored(stored, expected);
    }

    static MemorySegment collect(Writes w) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        w.to(bytes -> out.writeBytes(bytes.toArray(ValueLayout.JAVA_BYTE)));
        return MemorySegment.ofArray(out.toByteArray());
    }
}
