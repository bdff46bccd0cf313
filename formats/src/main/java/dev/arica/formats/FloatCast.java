package dev.arica.formats;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.Set;

/**
 * Element-wise casts between F32, F16 and BF16 (and F64 to F32), rounding to nearest even. NaN stays
 * NaN (quiet), infinities stay infinite, values beyond a type's range become infinities, subnormals are
 * kept where the target can represent them.
 */
public final class FloatCast {
    public static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    public static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private static final Set<DType> HALF_SET = EnumSet.of(DType.F32, DType.F16, DType.BF16);

    private FloatCast() {}

    /** Every element of {@code t} (its parts in order) cast to float32, little-endian, in memory of {@code arena}. */
    public static MemorySegment f32(Tensor t, Arena arena) {
        long n = t.info().elements();
        MemorySegment out = arena.allocate(n * Float.BYTES, 64);
        DType from = t.info().dtype();
        long at = 0;
        for (MemorySegment part : t.parts()) {
            long m = part.byteSize() / from.byteSize();
            cast(from, part, DType.F32, out.asSlice(at * Float.BYTES, m * Float.BYTES), m);
            at += m;
        }
        return out;
    }

    /** {@link #f32} of {@code t} as an array; a tensor of more elements than an array holds is refused. */
    public static float[] floats(Tensor t) {
        if (t.info().elements() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(t.name() + " has " + t.info().elements() + " elements, more than an array "
                    + "holds");
        }
        try (Arena arena = Arena.ofConfined()) {
            return f32(t, arena).toArray(F32_LE);
        }
    }

    /** Why {@code from} cannot be cast to {@code to}, or null when it can. */
    public static String refusal(DType from, DType to) {
        if (from == to) {
            return null;
        }
        if (HALF_SET.contains(from) && HALF_SET.contains(to)) {
            return null;
        }
        if (from == DType.F64 && to == DType.F32) {
            return null;
        }
        if (!from.isFloat()) {
            return from + " is not a floating-point type; " + to + " cannot represent its values exactly";
        }
        return "casting " + from + " to " + to + " is not supported (supported: between F32, F16 and BF16, and F64 to F32)";
    }

    /** Throws when the cast is not supported; {@code tensor} names the tensor in the message. */
    public static void check(String tensor, DType from, DType to) {
        String why = refusal(from, to);
        if (why != null) {
            throw new UnsupportedCastException("tensor '" + tensor + "': " + why);
        }
    }

    /** Thrown for a cast that would lose the meaning of the values. */
    public static final class UnsupportedCastException extends IllegalArgumentException {
        private static final long serialVersionUID = 1L;

        public UnsupportedCastException(String message) {
            super(message);
        }
    }

    /**
     * Casts {@code count} elements from {@code src} (type {@code from}) into {@code dst} (type {@code to}).
     */
    public static void cast(DType from, MemorySegment src, DType to, MemorySegment dst, long count) {
        if (refusal(from, to) != null) {
            throw new UnsupportedCastException(refusal(from, to));
        }
        if (from == to) {
            MemorySegment.copy(src, 0, dst, 0, from.bytesFor(count));
            return;
        }
        switch (from) {
            case F32 -> {
                if (to == DType.F16) {
                    for (long i = 0; i < count; i++) {
                        dst.set(I16_LE, i * 2, Float.floatToFloat16(src.get(F32_LE, i * 4)));
                    }
                } else {
                    for (long i = 0; i < count; i++) {
                        dst.set(I16_LE, i * 2, f32ToBf16(src.get(F32_LE, i * 4)));
                    }
                }
            }
            case F16 -> {
                for (long i = 0; i < count; i++) {
                    float f = Float.float16ToFloat(src.get(I16_LE, i * 2));
                    if (to == DType.F32) {
                        dst.set(F32_LE, i * 4, f);
                    } else {
                        dst.set(I16_LE, i * 2, f32ToBf16(f));
                    }
                }
            }
            case BF16 -> {
                for (long i = 0; i < count; i++) {
                    float f = bf16ToF32(src.get(I16_LE, i * 2));
                    if (to == DType.F32) {
                        dst.set(F32_LE, i * 4, f);
                    } else {
                        dst.set(I16_LE, i * 2, Float.floatToFloat16(f));
                    }
                }
            }
            case F64 -> {
                for (long i = 0; i < count; i++) {
                    dst.set(F32_LE, i * 4, (float) src.get(F64_LE, i * 8));
                }
            }
            default -> throw new UnsupportedCastException(refusal(from, to));
        }
    }

    /** F32 to BF16, round to nearest even; NaN becomes a quiet NaN of the same sign. */
    public static short f32ToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7fffffff) > 0x7f800000) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    public static float bf16ToF32(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }
}
