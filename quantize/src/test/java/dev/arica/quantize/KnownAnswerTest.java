package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.quantize.Fixtures.Path;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/**
 * Hand-checked answers: the fp16 scale bits and the codes of a few groups are written out literally (worked out
 * by hand and with numpy float32/float16 arithmetic following ggml's reference code), and every path must
 * produce exactly these bytes.
 */
class KnownAnswerTest {

    /** x_j = j - 16: -16 .. 15. */
    static float[] ramp() {
        float[] x = new float[32];
        for (int j = 0; j < 32; j++) {
            x[j] = j - 16;
        }
        return x;
    }

    /** x_j = (float) (0.1 * (j + 1)), negated for odd j: 0.1, -0.2, 0.3, ..., -3.2. */
    static float[] tenths() {
        float[] x = new float[32];
        for (int j = 0; j < 32; j++) {
            x[j] = (float) (0.1 * (j + 1)) * (j % 2 == 0 ? 1 : -1);
        }
        return x;
    }

    /** amax = 127 so d = 1 exactly: exact half-way products that roundf sends away from zero. */
    static float[] halves() {
        float[] x = new float[32];
        float[] head = {127, -127, 0.5f, -0.5f, 1.5f, -1.5f, 2.5f, -2.5f, 126.5f, -126.5f, Math.nextDown(0.5f),
            -Math.nextDown(0.5f), 3.25f, -0f};
        System.arraycopy(head, 0, x, 0, head.length);
        return x;
    }

    static byte[] q8Block(int scaleBits, int... codes) {
        assertEquals(32, codes.length);
        byte[] b = new byte[34];
        b[0] = (byte) scaleBits;
        b[1] = (byte) (scaleBits >> 8);
        for (int j = 0; j < 32; j++) {
            b[2 + j] = (byte) codes[j];
        }
        return b;
    }

    static byte[] q4Block(int scaleBits, String hex) {
        String[] parts = hex.split(" ");
        assertEquals(16, parts.length);
        byte[] b = new byte[18];
        b[0] = (byte) scaleBits;
        b[1] = (byte) (scaleBits >> 8);
        for (int j = 0; j < 16; j++) {
            b[2 + j] = (byte) Integer.parseInt(parts[j], 16);
        }
        return b;
    }

    static byte[] run(Path path, QuantLayout layout, float[] x, int rows, int cols) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = Fixtures.segment(arena, x);
            MemorySegment dst = arena.allocate(layout.bytes(rows, cols));
            Fixtures.quantize(path, layout, src, rows, cols, dst);
            return Fixtures.bytes(dst);
        }
    }

    static void expect(QuantLayout layout, float[] x, byte[] expected) {
        for (Path path : Fixtures.paths()) {
            assertArrayEquals(expected, run(path, layout, x, 1, x.length), layout.describe() + " " + path);
        }
    }

    @Test
    void q8Ramp() {
        // d = 16/127 = 0.12598425 -> fp16 0x3008 (0.1259765625); q = roundf(x * 127/16)
        expect(QuantLayout.of(Scheme.Q8_0), ramp(), q8Block(0x3008,
                -127, -119, -111, -103, -95, -87, -79, -71, -64, -56, -48, -40, -32, -24, -16, -8,
                0, 8, 16, 24, 32, 40, 48, 56, 64, 71, 79, 87, 95, 103, 111, 119));
    }

    @Test
    void q8Tenths() {
        // amax 3.2, d = 0.025196852 -> fp16 0x2673
        expect(QuantLayout.of(Scheme.Q8_0), tenths(), q8Block(0x2673,
                4, -8, 12, -16, 20, -24, 28, -32, 36, -40, 44, -48, 52, -56, 60, -64,
                67, -71, 75, -79, 83, -87, 91, -95, 99, -103, 107, -111, 115, -119, 123, -127));
    }

    @Test
    void q8HalvesRoundAwayFromZero() {
        // d = 1 -> 0x3c00; 0.5 -> 1, -0.5 -> -1, 2.5 -> 3 (not 2), 126.5 -> 127, 0.49999997 -> 0
        expect(QuantLayout.of(Scheme.Q8_0), halves(), q8Block(0x3c00,
                127, -127, 1, -1, 2, -2, 3, -3, 127, -127, 0, 0, 3, 0, 0, 0,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
    }

    @Test
    void q8ZeroGroupAndPaddedTail() {
        // row of 40: one all-zero group, then 8 values padded to 32 with zeros
        float[] x = new float[40];
        for (int j = 0; j < 8; j++) {
            x[32 + j] = j - 4; // -4 .. 3: d = 4/127 -> fp16 0x2808 (0.031494140625)
        }
        byte[] expected = new byte[68];
        System.arraycopy(q8Block(0, new int[32]), 0, expected, 0, 34);
        System.arraycopy(q8Block(0x2808, -127, -95, -64, -32, 0, 32, 64, 95,
                0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0), 0, expected, 34, 34);
        expect(QuantLayout.of(Scheme.Q8_0), x, expected);
    }

    @Test
    void q4Ramp() {
        // m = -16 (largest magnitude, negative), d = -16 / -8 = 2 -> 0x4000; q = (int) (x / 2 + 8.5), <= 15
        expect(QuantLayout.of(Scheme.Q4_0), ramp(), q4Block(0x4000, "80 91 91 A2 A2 B3 B3 C4 C4 D5 D5 E6 E6 F7 F7 F8"));
    }

    @Test
    void q4TiesTakeTheFirst() {
        // [-3, 3, 0...]: m = -3 (first), d = 0.375 -> 0x3600; -3 -> 0, 3 -> 16 -> 15, 0 -> 8
        float[] x = new float[32];
        x[0] = -3;
        x[1] = 3;
        expect(QuantLayout.of(Scheme.Q4_0), x, q4Block(0x3600, "80 8F 88 88 88 88 88 88 88 88 88 88 88 88 88 88"));
        // [3, -3, 0...]: m = 3, d = -0.375 -> 0xb600; same codes
        x[0] = 3;
        x[1] = -3;
        expect(QuantLayout.of(Scheme.Q4_0), x, q4Block(0xb600, "80 8F 88 88 88 88 88 88 88 88 88 88 88 88 88 88"));
        // the tie far apart, in different vector lanes: 5 at 3, -5 at 29 -> m = 5, d = -0.625 -> 0xb900
        float[] y = new float[32];
        y[3] = 5;
        y[29] = -5;
        expect(QuantLayout.of(Scheme.Q4_0), y, q4Block(0xb900, "88 88 88 80 88 88 88 88 88 88 88 88 88 F8 88 88"));
    }

    @Test
    void q4Tenths() {
        // m = -3.2, d = 0.4 -> 0x3666
        expect(QuantLayout.of(Scheme.Q4_0), tenths(), q4Block(0x3666, "C8 48 D9 37 D9 37 EA 26 EA 26 FB 15 FB 15 FC 04"));
    }

    @Test
    void q4ZeroGroupStoresNegativeZeroScale() {
        // m = +0, d = 0 / -8 = -0 -> 0x8000 (as ggml); every code 8
        expect(QuantLayout.of(Scheme.Q4_0), new float[32], q4Block(0x8000, "88 88 88 88 88 88 88 88 88 88 88 88 88 88 88 88"));
        float[] negZeros = new float[32];
        java.util.Arrays.fill(negZeros, -0f);
        expect(QuantLayout.of(Scheme.Q4_0), negZeros, q4Block(0x8000, "88 88 88 88 88 88 88 88 88 88 88 88 88 88 88 88"));
    }

    @Test
    void int4SymmetricTenths() {
        // d = 3.2 / 7 = 0.45714286 -> fp16 0x3750 (0.45703125); code = round(x / s) + 8
        int[] codes = {8, 8, 9, 7, 9, 7, 10, 6, 10, 6, 10, 5, 11, 5, 11, 4, 12, 4, 12, 4, 13, 3, 13, 3, 13, 2, 14, 2,
            14, 1, 15, 1};
        byte[] expected = new byte[16 + 2];
        for (int i = 0; i < 16; i++) {
            expected[i] = (byte) (codes[2 * i] | codes[2 * i + 1] << 4); // adjacent elements share a byte
        }
        expected[16] = 0x50;
        expected[17] = 0x37;
        expect(new QuantLayout(Scheme.INT4, 32, false), tenths(), expected);
    }

    @Test
    void int4AsymmetricRamp() {
        // 0, 0.25, ..., 7.75: lo = 0, hi = 7.75, d = 7.75 / 15 = 0.51666665 -> fp16 0x3822 (0.5166015625), zp 0;
        // one group: its zero point in the low nibble of one byte
        float[] x = new float[32];
        for (int j = 0; j < 32; j++) {
            x[j] = j * 0.25f;
        }
        QuantLayout layout = new QuantLayout(Scheme.INT4, 32, true);
        int[] codes = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14,
            14, 15, 15};
        byte[] expected = new byte[16 + 2 + 1];
        for (int i = 0; i < 16; i++) {
            expected[i] = (byte) (codes[2 * i] | codes[2 * i + 1] << 4);
        }
        expected[16] = 0x22;
        expected[17] = 0x38;
        expected[18] = 0;
        expect(layout, x, expected);
    }

    @Test
    void int8SymmetricTenths() {
        // d = 3.2 / 127 -> 0x2673 (as q8_0), code = round(x / s) + 128
        int[] codes = {132, 120, 140, 112, 148, 104, 156, 96, 164, 88, 172, 80, 180, 72, 188, 64, 195, 57, 203, 49, 211,
            41, 219, 33, 227, 25, 235, 17, 243, 9, 251, 1};
        QuantLayout layout = new QuantLayout(Scheme.INT8, 32, false);
        byte[] expected = new byte[34];
        for (int i = 0; i < 32; i++) {
            expected[i] = (byte) codes[i];
        }
        expected[32] = 0x73;
        expected[33] = 0x26;
        expect(layout, tenths(), expected);
    }

    @Test
    void intDegenerateGroupUsesTheMidpoint() {
        // all zeros, asymmetric: scale 0, zero point 2^(bits-1), codes 2^(bits-1)
        QuantLayout layout = new QuantLayout(Scheme.INT4, 16, true);
        byte[] expected = new byte[8 + 2 + 1];
        java.util.Arrays.fill(expected, 0, 8, (byte) 0x88);
        expected[10] = 0x08; // one group: zero point 8 in the low nibble, high nibble 0
        expect(layout, new float[16], expected);
        QuantLayout int8 = new QuantLayout(Scheme.INT8, 16, true);
        byte[] e8 = new byte[16 + 2 + 1];
        java.util.Arrays.fill(e8, 0, 16, (byte) 0x80);
        e8[18] = (byte) 0x80;
        expect(int8, new float[16], e8);
    }
}
