package dev.arica.formats.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Known-answer vectors for the GGML block types arica dequantizes: each block is written out byte by byte from the
 * published layout (ggml-common.h's block structs) and its values are stated by hand, exact in float32 so that they
 * hold whatever the order of GGML's float operations. The 256-value types state one value per sub-block (or group of
 * 16) and the positions that differ from it, chosen to reach every packing rule: both nibbles, the packed 6-bit
 * scales and minimums with their high bits, the fifth and sixth bits, negative scales. Blocks are read at byte
 * {@link #AT} of their segment and written from {@link #OUT_AT} of the output, to exercise both offsets.
 */
class GgufBlocksTest {
    private static final int AT = 5;
    private static final int OUT_AT = 3;

    private static byte[] bytes(int... b) {
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = (byte) b[i];
        }
        return out;
    }

    /** {@code n} copies of byte {@code b}. */
    private static byte[] fill(int n, int b) {
        byte[] out = new byte[n];
        Arrays.fill(out, (byte) b);
        return out;
    }

    private static byte[] concat(byte[]... parts) {
        byte[] out = new byte[Arrays.stream(parts).mapToInt(p -> p.length).sum()];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    /** The values of {@code block} as {@code f} dequantizes it, read behind {@link #AT} bytes of other data. */
    private static float[] dequantize(BlockDequantizer f, byte[] block, int values) {
        byte[] all = concat(fill(AT, 0xee), block, fill(3, 0xee));
        float[] out = new float[OUT_AT + values + 2];
        Arrays.fill(out, Float.NaN);
        f.dequantize(MemorySegment.ofArray(all), AT, out, OUT_AT);
        assertEquals(Float.NaN, out[OUT_AT - 1], "nothing written before the block's values");
        assertEquals(Float.NaN, out[OUT_AT + values], "nothing written after the block's values");
        return Arrays.copyOfRange(out, OUT_AT, OUT_AT + values);
    }

    /** Every value {@code perGroup[i / group]}, except those in {@code except}. */
    private static float[] expected(int group, float[] perGroup, Map<Integer, Float> except) {
        float[] out = new float[group * perGroup.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = except.getOrDefault(i, perGroup[i / group]);
        }
        return out;
    }

    /** byte j = j in the low nibble, 15 - j in the high one: codes 0..15 on the first half, 15..0 on the second. */
    private static byte[] rampNibbles() {
        byte[] qs = new byte[16];
        for (int j = 0; j < 16; j++) {
            qs[j] = (byte) (j | (15 - j) << 4);
        }
        return qs;
    }

    @Test
    void q8_0IsCodeTimesScale() {
        // d = 0.5 (fp16 0x3800), q[j] = j - 16.
        byte[] qs = new byte[32];
        for (int j = 0; j < 32; j++) {
            qs[j] = (byte) (j - 16);
        }
        assertEquals(34, Q8_0Row.BLOCK);
        assertArrayEquals(new float[] {-8f, -7.5f, -7f, -6.5f, -6f, -5.5f, -5f, -4.5f, -4f, -3.5f, -3f, -2.5f, -2f,
            -1.5f, -1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 2.5f, 3f, 3.5f, 4f, 4.5f, 5f, 5.5f, 6f, 6.5f, 7f, 7.5f},
                dequantize(Q8_0Row::dequantize, concat(bytes(0x00, 0x38), qs), 32));
    }

    @Test
    void q4_0IsCodeMinusEightTimesScale() {
        // d = 0.25 (0x3400); value j = (j - 8) / 4, value j + 16 = (7 - j) / 4.
        assertArrayEquals(new float[] {-2f, -1.75f, -1.5f, -1.25f, -1f, -0.75f, -0.5f, -0.25f, 0f, 0.25f, 0.5f, 0.75f,
            1f, 1.25f, 1.5f, 1.75f, 1.75f, 1.5f, 1.25f, 1f, 0.75f, 0.5f, 0.25f, 0f, -0.25f, -0.5f, -0.75f, -1f, -1.25f,
            -1.5f, -1.75f, -2f}, dequantize(Q4_0Row::dequantize, concat(bytes(0x00, 0x34), rampNibbles()), 32));
    }

    @Test
    void q4_1AddsTheMinimum() {
        // d = 0.5, m = -2 (0xc000): value = q / 2 - 2.
        assertEquals(Q4_1Block.BYTES, 2 + 2 + 16);
        assertArrayEquals(new float[] {-2f, -1.5f, -1f, -0.5f, 0f, 0.5f, 1f, 1.5f, 2f, 2.5f, 3f, 3.5f, 4f, 4.5f, 5f,
            5.5f, 5.5f, 5f, 4.5f, 4f, 3.5f, 3f, 2.5f, 2f, 1.5f, 1f, 0.5f, 0f, -0.5f, -1f, -1.5f, -2f},
                dequantize(Q4_1Block::dequantize, concat(bytes(0x00, 0x38, 0x00, 0xc0), rampNibbles()), 32));
    }

    @Test
    void q5_0TakesEachFifthBitFromItsPositionInQh() {
        // d = 0.25; qh = 0x00018001: fifth bits of values 0, 15 and 16 (value j + 16 reads bit j + 16).
        assertEquals(Q5_0Block.BYTES, 2 + 4 + 16);
        assertArrayEquals(new float[] {0f, -3.75f, -3.5f, -3.25f, -3f, -2.75f, -2.5f, -2.25f, -2f, -1.75f, -1.5f,
            -1.25f, -1f, -0.75f, -0.5f, 3.75f, 3.75f, -0.5f, -0.75f, -1f, -1.25f, -1.5f, -1.75f, -2f, -2.25f, -2.5f,
            -2.75f, -3f, -3.25f, -3.5f, -3.75f, -4f},
                dequantize(Q5_0Block::dequantize, concat(bytes(0x00, 0x34, 0x01, 0x80, 0x01, 0x00), rampNibbles()), 32));
    }

    @Test
    void q5_1AddsTheMinimumToFiveBitCodes() {
        // d = 0.5, m = 1 (0x3c00); qh = 0x80010000: fifth bits of values 16 and 31.
        assertEquals(Q5_1Block.BYTES, 2 + 2 + 4 + 16);
        assertArrayEquals(new float[] {1f, 1.5f, 2f, 2.5f, 3f, 3.5f, 4f, 4.5f, 5f, 5.5f, 6f, 6.5f, 7f, 7.5f, 8f, 8.5f,
            16.5f, 8f, 7.5f, 7f, 6.5f, 6f, 5.5f, 5f, 4.5f, 4f, 3.5f, 3f, 2.5f, 2f, 1.5f, 9f},
                dequantize(Q5_1Block::dequantize, concat(bytes(0x00, 0x38, 0x00, 0x3c, 0x00, 0x00, 0x01, 0x80),
                        rampNibbles()), 32));
    }

    /**
     * The 12 bytes of Q4_K's and Q5_K's packed 6-bit (scale, min) pairs, written by hand for sub-blocks 0..7:
     * (1, 0), (2, 1), (4, 2), (8, 3), (16, 4), (33, 5), (63, 34), (10, 63). Bytes 0-3 hold the scales of 0-3 and
     * the top two bits of the scales of 4-7; bytes 4-7 the mins of 0-3 and the top bits of the mins of 4-7; bytes 8-11
     * the low nibbles of scale (low) and min (high) of 4-7.
     */
    private static final byte[] K_SCALES = bytes(0x41, 0x82, 0xc4, 0x08, 0x00, 0x01, 0x82, 0xc3, 0x40, 0x51, 0x2f, 0xfa);

    /**
     * With d = 0.5 and dmin = 0.25 the sub-blocks' (d * scale, dmin * min) are (0.5, 0), (1, 0.25), (2, 0.5),
     * (4, 0.75), (8, 1), (16.5, 1.25), (31.5, 8.5), (5, 15.75); codes 1 (low nibbles, even sub-blocks) and 2 (high
     * nibbles, odd ones) give these values.
     */
    private static final float[] K_DEFAULTS = {0.5f, 1.75f, 1.5f, 7.25f, 7f, 31.75f, 23f, -5.75f};

    /** 128 bytes of 0x21 (low code 1, high code 2), except byte 0 = 0xf0 and byte 127 = 0x0f. */
    private static byte[] kCodes() {
        byte[] qs = fill(128, 0x21);
        qs[0] = (byte) 0xf0;
        qs[127] = 0x0f;
        return qs;
    }

    @Test
    void q4_KUnpacksSixBitScalesAndMinimums() {
        assertEquals(Q4_KBlock.BYTES, 2 + 2 + 12 + 128);
        byte[] block = concat(bytes(0x00, 0x38, 0x00, 0x34), K_SCALES, kCodes());
        // Byte 0: value 0 (code 0) and value 32 (code 15); byte 127: value 223 (code 15) and value 255 (code 0).
        assertArrayEquals(expected(32, K_DEFAULTS, Map.of(0, 0f, 32, 14.75f, 223, 464f, 255, -15.75f)),
                dequantize(Q4_KBlock::dequantize, block, 256));
    }

    @Test
    void q5_KAddsTheFifthBitsOfQh() {
        assertEquals(Q5_KBlock.BYTES, 2 + 2 + 12 + 32 + 128);
        // qh[0] bit 0: value 0 gets 16; qh[5] bit 2: value 64 + 5; qh[31] bit 7: value 192 + 32 + 31.
        byte[] qh = new byte[32];
        qh[0] = 0x01;
        qh[5] = 0x04;
        qh[31] = (byte) 0x80;
        byte[] block = concat(bytes(0x00, 0x38, 0x00, 0x34), K_SCALES, qh, kCodes());
        assertArrayEquals(expected(32, K_DEFAULTS, Map.of(0, 8f, 32, 14.75f, 69, 33.5f, 223, 464f, 255, 64.25f)),
                dequantize(Q5_KBlock::dequantize, block, 256));
    }

    @Test
    void q6_KCombinesLowNibblesHighBitsAndSignedScales() {
        assertEquals(Q6_KBlock.BYTES, 128 + 64 + 16 + 2);
        // Codes (0 | 1 << 4) - 32 = -16 everywhere but in the bytes changed below; d = 0.25 and the int8 scales of
        // the 16 groups of 16 values give -4 * scale.
        byte[] ql = new byte[128];
        ql[0] = (byte) 0xf0;
        byte[] qh = fill(64, 0x55);
        qh[0] = (byte) 0xff;
        qh[63] = 0x15;
        byte[] scales = bytes(1, -1, 2, -2, 3, -3, 4, -4, 5, -5, 6, -6, 7, -7, 8, -128);
        byte[] block = concat(ql, qh, scales, bytes(0x00, 0x34));
        float[] groups = {-4f, 4f, -8f, 8f, -12f, 12f, -16f, 16f, -20f, 20f, -24f, 24f, -28f, 28f, -32f, 512f};
        // ql[0] and qh[0] make values 0, 32, 64 and 96 codes 16, 16, 31, 16; qh[63] makes value 255's code -32.
        assertArrayEquals(expected(16, groups, Map.of(0, 4f, 32, 8f, 64, 23.25f, 96, 16f, 255, 1024f)),
                dequantize(Q6_KBlock::dequantize, block, 256));
    }

    @Test
    void q8_KIsAFloatScaleTimesInt8Codes() {
        assertEquals(Q8_KBlock.BYTES, 4 + 256 + 32);
        // d = 0.5 as float32; codes 3 except -128, -1 and 127 at 0, 100 and 255; bsums are not read.
        byte[] qs = fill(256, 3);
        qs[0] = (byte) -128;
        qs[100] = -1;
        qs[255] = 127;
        byte[] block = concat(bytes(0x00, 0x00, 0x00, 0x3f), qs, fill(32, 0x7f));
        assertArrayEquals(expected(256, new float[] {1.5f}, Map.of(0, -64f, 100, -0.5f, 255, 63.5f)),
                dequantize(Q8_KBlock::dequantize, block, 256));
    }
}
