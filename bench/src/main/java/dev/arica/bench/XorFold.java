package dev.arica.bench;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The "read every byte" workload of the read benchmarks: an xor-fold of a tensor's bytes taken as
 * little-endian longs, the last 1..7 bytes zero-padded into one more long. Cheap enough that reading, not
 * folding, is what a run measures, and it depends on every byte. Both readers hand their bytes to the
 * same method (DJL's heap buffers wrapped with {@link MemorySegment#ofBuffer}), so they do the same work.
 */
public final class XorFold {

    private static final ValueLayout.OfLong LONG_LE =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private XorFold() {}

    /** The fold of all bytes of {@code seg}. */
    public static long fold(MemorySegment seg) {
        long size = seg.byteSize();
        long whole = size & ~7L;
        long h = 0;
        for (long i = 0; i < whole; i += 8) {
            h ^= seg.get(LONG_LE, i);
        }
        long tail = 0;
        for (long i = whole; i < size; i++) {
            tail |= (seg.get(ValueLayout.JAVA_BYTE, i) & 0xffL) << (8 * (i - whole));
        }
        return h ^ tail;
    }

    /**
     * Combines the folds of a file's tensors. Commutative, so the order in which a reader lists the
     * tensors does not matter; mixing in the tensor's size keeps equal tensors from cancelling out.
     */
    public static long combine(long acc, long tensorFold, long tensorBytes) {
        return acc + (Long.rotateLeft(tensorFold, 17) ^ (tensorBytes * 0x9E3779B97F4A7C15L));
    }
}
