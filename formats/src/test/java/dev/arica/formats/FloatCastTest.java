package dev.arica.formats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** Casts checked against bit patterns worked out by hand from the IEEE 754 layouts. */
class FloatCastTest {

    /** Casts F32 values given as bit patterns through FloatCast.cast and returns the 16-bit results. */
    private static int[] castF32(DType to, int... f32Bits) {
        ByteBuffer src = ByteBuffer.allocate(4 * f32Bits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int b : f32Bits) {
            src.putInt(b);
        }
        byte[] dst = new byte[2 * f32Bits.length];
        FloatCast.cast(DType.F32, MemorySegment.ofArray(src.array()), to, MemorySegment.ofArray(dst), f32Bits.length);
        ByteBuffer d = ByteBuffer.wrap(dst).order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[f32Bits.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = d.getShort(2 * i) & 0xffff;
        }
        return out;
    }

    /** Casts 16-bit patterns of type {@code from} to F32 bit patterns. */
    private static int[] castToF32(DType from, int... halfBits) {
        ByteBuffer src = ByteBuffer.allocate(2 * halfBits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int b : halfBits) {
            src.putShort((short) b);
        }
        byte[] dst = new byte[4 * halfBits.length];
        FloatCast.cast(from, MemorySegment.ofArray(src.array()), DType.F32, MemorySegment.ofArray(dst), halfBits.length);
        ByteBuffer d = ByteBuffer.wrap(dst).order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[halfBits.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = d.getInt(4 * i);
        }
        return out;
    }

    private static int[] castHalf(DType from, DType to, int... bits) {
        ByteBuffer src = ByteBuffer.allocate(2 * bits.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int b : bits) {
            src.putShort((short) b);
        }
        byte[] dst = new byte[2 * bits.length];
        FloatCast.cast(from, MemorySegment.ofArray(src.array()), to, MemorySegment.ofArray(dst), bits.length);
        ByteBuffer d = ByteBuffer.wrap(dst).order(ByteOrder.LITTLE_ENDIAN);
        int[] out = new int[bits.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = d.getShort(2 * i) & 0xffff;
        }
        return out;
    }

    /** {f32 bits, expected bits} pairs, checked one by one with a readable failure. */
    private static void check(DType to, int[][] vectors) {
        int[] in = new int[vectors.length];
        for (int i = 0; i < vectors.length; i++) {
            in[i] = vectors[i][0];
        }
        int[] out = castF32(to, in);
        for (int i = 0; i < vectors.length; i++) {
            assertEquals(vectors[i][1], out[i], String.format("F32 0x%08x (%s) -> %s: expected 0x%04x, got 0x%04x",
                    vectors[i][0], Float.intBitsToFloat(vectors[i][0]), to, vectors[i][1], out[i]));
        }
    }

    @Test
    void f32ToF16KnownVectors() {
        check(DType.F16, new int[][] {
                {0x3f800000, 0x3c00}, // 1
                {0xc0000000, 0xc000}, // -2
                {0x3eaaaaab, 0x3555}, // 1/3 rounds down
                {0x477fe000, 0x7bff}, // 65504, largest finite
                {0x38800000, 0x0400}, // 2^-14, smallest normal
                {0x00000000, 0x0000}, // +0
                {0x80000000, 0x8000}, // -0
                {0x7f800000, 0x7c00}, // +inf
                {0xff800000, 0xfc00}, // -inf
        });
    }

    @Test
    void f32ToF16HalfwayCasesRoundToEven() {
        check(DType.F16, new int[][] {
                {0x3f801000, 0x3c00}, // 1 + 2^-11: halfway, even is below
                {0x3f803000, 0x3c02}, // 1 + 3*2^-11: halfway, even is above
                {0xbf801000, 0xbc00}, // negative, down in magnitude
                {0xbf803000, 0xbc02}, // negative, up in magnitude
                {0x3f800fff, 0x3c00}, // just below halfway
                {0x3f801001, 0x3c01}, // just above halfway
                {0x3f802fff, 0x3c01},
        });
    }

    @Test
    void f32ToF16OverflowRoundsToInfinity() {
        check(DType.F16, new int[][] {
                {0x477fefff, 0x7bff}, // just below 65520 stays at 65504
                {0x477ff000, 0x7c00}, // 65520: halfway to 2^16, even is infinity
                {0xc77ff000, 0xfc00},
                {0x47800000, 0x7c00}, // 65536
                {0x7f7fffff, 0x7c00}, // F32 max
                {0xc7c35000, 0xfc00}, // -100000
        });
    }

    @Test
    void f32ToF16SubnormalsAndUnderflow() {
        check(DType.F16, new int[][] {
                {0x33800000, 0x0001}, // 2^-24, smallest subnormal
                {0xb3800000, 0x8001},
                {0x387fc000, 0x03ff}, // largest subnormal
                {0x387fe000, 0x0400}, // halfway between largest subnormal and smallest normal: even is 0x400
                {0x33c00000, 0x0002}, // 1.5 * 2^-24: halfway, even is above
                {0x34200000, 0x0002}, // 2.5 * 2^-24: halfway, even is below
                {0x33000000, 0x0000}, // 2^-25: halfway to the smallest subnormal, even is zero
                {0xb3000000, 0x8000}, // negative underflow keeps the sign
                {0x33000001, 0x0001}, // just above halfway
                {0x32800000, 0x0000}, // 2^-26
                {0x00000001, 0x0000}, // smallest F32 subnormal
        });
    }

    @Test
    void f32ToF16NanStaysNan() {
        int[] out = castF32(DType.F16, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa00000);
        for (int i = 0; i < out.length; i++) {
            assertEquals(0x7c00, out[i] & 0x7c00, String.format("NaN %d -> 0x%04x has exponent all ones", i, out[i]));
            assertTrue((out[i] & 0x03ff) != 0, String.format("NaN %d -> 0x%04x must not become infinity", i, out[i]));
        }
        assertEquals(0x7e00, out[0], "canonical quiet NaN");
        assertEquals(0x8000, out[1] & 0x8000, "sign of -NaN");
    }

    @Test
    void f32ToBf16KnownVectors() {
        check(DType.BF16, new int[][] {
                {0x3f800000, 0x3f80}, // 1
                {0xc0000000, 0xc000}, // -2
                {0x3eaaaaab, 0x3eab}, // 1/3 rounds up
                {0x40490fdb, 0x4049}, // pi rounds down
                {0x00000000, 0x0000},
                {0x80000000, 0x8000},
                {0x7f800000, 0x7f80},
                {0xff800000, 0xff80},
        });
    }

    @Test
    void f32ToBf16HalfwayCasesRoundToEven() {
        check(DType.BF16, new int[][] {
                {0x3f808000, 0x3f80}, // halfway, even is below
                {0x3f818000, 0x3f82}, // halfway, even is above
                {0xbf808000, 0xbf80},
                {0xbf818000, 0xbf82},
                {0x3f807fff, 0x3f80},
                {0x3f808001, 0x3f81},
        });
    }

    @Test
    void f32ToBf16OverflowRoundsToInfinity() {
        check(DType.BF16, new int[][] {
                {0x7f7f7fff, 0x7f7f}, // stays at BF16 max
                {0x7f7f8000, 0x7f80}, // halfway above BF16 max: even is infinity
                {0x7f7fffff, 0x7f80}, // F32 max
                {0xff7fffff, 0xff80},
        });
    }

    @Test
    void f32ToBf16SubnormalsAndUnderflow() {
        check(DType.BF16, new int[][] {
                {0x00010000, 0x0001}, // smallest BF16 subnormal
                {0x007f0000, 0x007f}, // largest BF16 subnormal
                {0x007fc000, 0x0080}, // rounds up into the smallest normal
                {0x00018000, 0x0002}, // halfway, even is above
                {0x00008000, 0x0000}, // halfway to the smallest subnormal: even is zero
                {0x80008000, 0x8000}, // negative keeps the sign
                {0x00008001, 0x0001},
                {0x00000001, 0x0000}, // smallest F32 subnormal
        });
    }

    @Test
    void f32ToBf16NanStaysQuietNan() {
        int[] in = {0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fa00000, 0x7f80ffff};
        int[] out = castF32(DType.BF16, in);
        for (int i = 0; i < in.length; i++) {
            String what = String.format("NaN 0x%08x -> 0x%04x", in[i], out[i]);
            assertEquals(0x7f80, out[i] & 0x7f80, what + ": exponent all ones");
            assertEquals(0x0040, out[i] & 0x0040, what + ": quiet bit set");
            assertEquals(in[i] >>> 31, out[i] >>> 15, what + ": sign kept");
        }
        assertEquals(0x7fc0, out[0]);
        assertEquals(0x7fc0, out[2], "signalling NaN with low payload only must not become infinity");
        assertEquals((short) 0x7fc0, FloatCast.f32ToBf16(Float.NaN));
    }

    @Test
    void f16ToF32IsExactForEveryPattern() {
        int[] all = new int[1 << 16];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        int[] out = castToF32(DType.F16, all);
        for (int h = 0; h < all.length; h++) {
            int sign = h >>> 15, exp = (h >>> 10) & 0x1f, mant = h & 0x3ff;
            float f = Float.intBitsToFloat(out[h]);
            if (exp == 0x1f) {
                if (mant == 0) {
                    assertEquals(sign == 0 ? Float.POSITIVE_INFINITY : Float.NEGATIVE_INFINITY, f, "0x" + Integer.toHexString(h));
                } else {
                    assertTrue(Float.isNaN(f), "0x" + Integer.toHexString(h) + " must stay NaN");
                }
                continue;
            }
            double magnitude = exp == 0 ? Math.scalb((double) mant, -24) : Math.scalb((double) (1024 + mant), exp - 25);
            float expected = (float) (sign == 1 ? -magnitude : magnitude);
            if (Float.floatToRawIntBits(expected) != out[h]) {
                throw new AssertionError(String.format("F16 0x%04x: expected 0x%08x, got 0x%08x", h,
                        Float.floatToRawIntBits(expected), out[h]));
            }
        }
    }

    @Test
    void bf16ToF32IsExactForEveryPattern() {
        int[] all = new int[1 << 16];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        int[] out = castToF32(DType.BF16, all);
        for (int h = 0; h < all.length; h++) {
            if (out[h] != h << 16) {
                throw new AssertionError(String.format("BF16 0x%04x: expected 0x%08x, got 0x%08x", h, h << 16, out[h]));
            }
        }
    }

    @Test
    void halfTypesSurviveARoundTripThroughF32() {
        int[] all = new int[1 << 16];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        for (DType t : new DType[] {DType.F16, DType.BF16}) {
            int[] back = castF32(t, castToF32(t, all));
            int nanExp = t == DType.F16 ? 0x7c00 : 0x7f80;
            for (int h = 0; h < all.length; h++) {
                boolean nan = (h & nanExp) == nanExp && (h & ~nanExp & 0x7fff) != 0;
                if (!nan && back[h] != h) {
                    throw new AssertionError(String.format("%s 0x%04x came back as 0x%04x", t, h, back[h]));
                }
            }
        }
    }

    @Test
    void f16AndBf16ConvertToEachOther() {
        // F16 1 + 2^-10 has more mantissa than BF16 keeps; 65504 rounds up to 65536 in BF16.
        int[] toBf16 = castHalf(DType.F16, DType.BF16, 0x3c01, 0x7bff, 0x0001, 0xfc00);
        assertEquals(0x3f80, toBf16[0]);
        assertEquals(0x4780, toBf16[1]);
        assertEquals(0x3380, toBf16[2], "2^-24 is a normal BF16");
        assertEquals(0xff80, toBf16[3]);
        // BF16 65536 overflows F16; BF16 2^-25 underflows (halfway) to zero; 1.5 is exact.
        int[] toF16 = castHalf(DType.BF16, DType.F16, 0x4780, 0x3300, 0x3fc0, 0x3340);
        assertEquals(0x7c00, toF16[0]);
        assertEquals(0x0000, toF16[1]);
        assertEquals(0x3e00, toF16[2]);
        assertEquals(0x0001, toF16[3], "1.5 * 2^-25 = 0.75 * 2^-24 rounds to the smallest subnormal");
    }

    @Test
    void f64ToF32RoundsToNearest() {
        ByteBuffer src = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN).putDouble(0.1).putDouble(1e300).putDouble(-0.0);
        byte[] dst = new byte[12];
        FloatCast.cast(DType.F64, MemorySegment.ofArray(src.array()), DType.F32, MemorySegment.ofArray(dst), 3);
        ByteBuffer d = ByteBuffer.wrap(dst).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x3dcccccd, d.getInt(0));
        assertEquals(0x7f800000, d.getInt(4));
        assertEquals(0x80000000, d.getInt(8));
    }

    @Test
    void sameTypeIsACopy() {
        byte[] src = TestSupport.randomBytes(9, 40);
        byte[] dst = new byte[40];
        FloatCast.cast(DType.I32, MemorySegment.ofArray(src), DType.I32, MemorySegment.ofArray(dst), 10);
        org.junit.jupiter.api.Assertions.assertArrayEquals(src, dst);
    }

    @Test
    void integerToF16IsRefusedNamingTheTensor() {
        FloatCast.UnsupportedCastException e = assertThrows(FloatCast.UnsupportedCastException.class,
                () -> FloatCast.check("model.input_ids", DType.I32, DType.F16));
        assertTrue(e.getMessage().contains("tensor 'model.input_ids'"), e.getMessage());
        assertTrue(e.getMessage().contains("I32 is not a floating-point type"), e.getMessage());
        assertNotNull(FloatCast.refusal(DType.I32, DType.F16));
        assertThrows(FloatCast.UnsupportedCastException.class, () -> FloatCast.cast(DType.I32,
                MemorySegment.ofArray(new byte[4]), DType.F16, MemorySegment.ofArray(new byte[2]), 1));
    }

    @Test
    void fp8ToF16IsRefusedNamingTheTensor() {
        FloatCast.UnsupportedCastException e = assertThrows(FloatCast.UnsupportedCastException.class,
                () -> FloatCast.check("layers.0.w8", DType.F8_E4M3, DType.F16));
        assertTrue(e.getMessage().contains("tensor 'layers.0.w8'"), e.getMessage());
        assertTrue(e.getMessage().contains("casting F8_E4M3 to F16 is not supported"), e.getMessage());
        assertThrows(FloatCast.UnsupportedCastException.class, () -> FloatCast.cast(DType.F8_E4M3,
                MemorySegment.ofArray(new byte[1]), DType.F16, MemorySegment.ofArray(new byte[2]), 1));
    }

    @Test
    void supportedPairs() {
        DType[] half = {DType.F32, DType.F16, DType.BF16};
        for (DType a : half) {
            for (DType b : half) {
                assertNull(FloatCast.refusal(a, b), a + " -> " + b);
            }
        }
        assertNull(FloatCast.refusal(DType.F64, DType.F32));
        assertNotNull(FloatCast.refusal(DType.F32, DType.F64), "widening to F64 is not offered");
        assertNotNull(FloatCast.refusal(DType.F64, DType.F16));
        assertNotNull(FloatCast.refusal(DType.F16, DType.I8));
    }
}
