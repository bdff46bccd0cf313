package dev.arica.formats.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Each scheme's row geometry against rows written out by hand from the published layouts: GGML's block_q8_0 and
 * block_q4_0 (ggml-common.h) and ONNX Runtime's MatMulNBits inputs (B, scales, zero_points). Every row is read at
 * byte {@link #AT} of its segment, behind a row of other bytes, so that the row offset is exercised too.
 */
class RowGeometryTest {
    private static final int AT = 7;

    /** A segment of {@code AT} bytes of 0xee, then {@code row}. */
    private static MemorySegment stored(byte[] row) {
        byte[] all = new byte[AT + row.length];
        Arrays.fill(all, 0, AT, (byte) 0xee);
        System.arraycopy(row, 0, all, AT, row.length);
        return MemorySegment.ofArray(all);
    }

    private static byte[] bytes(int... b) {
        byte[] out = new byte[b.length];
        for (int i = 0; i < b.length; i++) {
            out[i] = (byte) b[i];
        }
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

    /** The row bytes of {@code s} after the {@code AT} bytes in front. */
    private static byte[] row(MemorySegment s) {
        return s.asSlice(AT).toArray(ValueLayout.JAVA_BYTE);
    }

    // q8_0, 40 values: two blocks of 34 bytes, the second holding 8 values and 24 zero codes of padding.
    private static final byte[] Q8_0 = concat(
            bytes(0x00, 0x38), // d = fp16 0.5 (0x3800), little-endian
            bytes(0xf0, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa, 0xfb, 0xfc, 0xfd, 0xfe, 0xff, // q = -16..-1
                    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f), // q = 0..15
            bytes(0x00, 0x3c), // d = fp16 1.0
            bytes(0x7f, 0x81, 0x01, 0xff, 0x00, 0x05, 0xfb, 0x64), // q = 127, -127, 1, -1, 0, 5, -5, 100
            new byte[24]);

    @Test
    void q8_0() {
        Q8_0Row g = new Q8_0Row(40);
        assertInstanceOf(Q8_0Row.class, QuantLayout.of(Scheme.Q8_0).geometry(40));
        assertEquals(34, Q8_0Row.BLOCK);
        assertEquals(2, g.groups());
        assertEquals(68, g.rowBytes());
        assertEquals(Q8_0.length, g.rowBytes());
        assertEquals(34, g.blockAt(1));
        assertEquals(34, g.scaleAt(1));
        assertEquals(36, g.codesAt(1));
        assertEquals(0, new Q8_0Row(0).rowBytes());
        assertEquals(34, new Q8_0Row(32).rowBytes());
        assertEquals(68, new Q8_0Row(33).rowBytes());

        MemorySegment s = stored(Q8_0);
        assertEquals((short) 0x3800, g.scale(s, AT, 0));
        assertEquals((short) 0x3c00, GgmlRow.d(s, AT + 34));
        assertEquals(-16, Q8_0Row.q(s, AT, 0));
        assertEquals(15, Q8_0Row.q(s, AT, 31));
        assertEquals(-127, Q8_0Row.q(s, AT + 34, 1));
        int[] codes = new int[32];
        g.codes(s, AT, 1, codes);
        assertArrayEquals(new int[] {255, 1, 129, 127, 128, 133, 123, 228}, Arrays.copyOf(codes, 8));
        assertEquals(128, codes[31]);
        assertEquals(128, g.zeroPoint(s, AT, 1));
        g.codes(s, AT, 0, codes);
        assertEquals(-8f, (codes[0] - g.zeroPoint(s, AT, 0)) * Float.float16ToFloat(g.scale(s, AT, 0)));

        MemorySegment w = stored(new byte[68]);
        GgmlRow.putD(w, AT, (short) 0x3800);
        for (int j = 0; j < 32; j++) {
            Q8_0Row.putQ(w, AT, j, j - 16);
        }
        GgmlRow.putD(w, AT + 34, (short) 0x3c00);
        int[] q = {127, -127, 1, -1, 0, 5, -5, 100};
        for (int j = 0; j < q.length; j++) {
            Q8_0Row.putQ(w, AT + 34, j, q[j]);
        }
        assertArrayEquals(Q8_0, row(w));
    }

    // q4_0, 32 values: byte j holds element j (low nibble) and element j + 16 (high nibble); here element j is
    // j and element j + 16 is 15 - j.
    private static final byte[] Q4_0 = concat(
            bytes(0x00, 0xb4), // d = fp16 -0.25 (0xb400)
            bytes(0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f));

    @Test
    void q4_0() {
        Q4_0Row g = new Q4_0Row(32);
        assertInstanceOf(Q4_0Row.class, QuantLayout.of(Scheme.Q4_0).geometry(32));
        assertEquals(18, Q4_0Row.BLOCK);
        assertEquals(Q4_0.length, g.rowBytes());
        assertEquals(0, g.scaleAt(0));
        assertEquals(2, g.codesAt(0));
        assertEquals(36, new Q4_0Row(33).rowBytes());
        assertEquals(18, new Q4_0Row(33).scaleAt(1));
        assertEquals(20, new Q4_0Row(33).codesAt(1));

        MemorySegment s = stored(Q4_0);
        assertEquals((short) 0xb400, g.scale(s, AT, 0));
        int[] codes = new int[32];
        Q4_0Row.unpack(s, AT, codes);
        assertEquals(0, codes[0]);
        assertEquals(5, codes[5]);
        assertEquals(15, codes[16]);
        assertEquals(10, codes[21]);
        assertEquals(0, codes[31]);
        Arrays.fill(codes, -1);
        g.codes(s, AT, 0, codes);
        for (int j = 0; j < 32; j++) {
            assertEquals(j < 16 ? j : 31 - j, codes[j], "element " + j);
        }
        assertEquals(8, g.zeroPoint(s, AT, 0));
        assertEquals(2f, (codes[0] - g.zeroPoint(s, AT, 0)) * Float.float16ToFloat(g.scale(s, AT, 0)));

        MemorySegment w = stored(new byte[18]);
        GgmlRow.putD(w, AT, (short) 0xb400);
        for (int j = 0; j < 16; j++) {
            Q4_0Row.putPair(w, AT, j, j, 15 - j);
        }
        assertArrayEquals(Q4_0, row(w));
    }

    // int4, groups of 16, asymmetric, 40 values: three groups (the last padded), codes 3 x 8 bytes with element 2i
    // in the low nibble of byte i, then three fp16 scales, then zero points 3, 10, 7 two to a byte, even group low.
    private static final byte[] INT4_ASYM = concat(
            bytes(0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe), // group 0: elements 0..15 = 0..15
            bytes(0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21, 0x21), // group 1: 1, 2, 1, 2, ...
            bytes(0x43, 0x43, 0x43, 0x43, 0x77, 0x77, 0x77, 0x77), // group 2: 3, 4, ... then padding 7, 7, ...
            bytes(0x00, 0x3c, 0x00, 0x40, 0x00, 0x38), // scales 1.0, 2.0, 0.5
            bytes(0xa3, 0x07)); // zero points 3 | 10 << 4, then 7 and an empty high nibble

    @Test
    void int4Asymmetric() {
        QuantLayout layout = new QuantLayout(Scheme.INT4, 16, true);
        IntRow g = new IntRow(layout, 40);
        assertInstanceOf(IntRow.class, layout.geometry(40));
        assertEquals(3, g.groups());
        assertEquals(INT4_ASYM.length, g.rowBytes());
        assertEquals(16, g.codesAt(2));
        assertEquals(24, g.scaleAt(0));
        assertEquals(28, g.scaleAt(2));
        assertEquals(30, g.zeroPointsAt());
        assertEquals(2, g.zeroPointBytes());

        MemorySegment s = stored(INT4_ASYM);
        assertEquals((short) 0x4000, g.scale(s, AT, 1));
        assertEquals(5, g.code(s, AT + g.codesAt(0), 5));
        assertEquals(14, g.code(s, AT + g.codesAt(0), 14));
        int[] codes = new int[16];
        g.codes(s, AT, 1, codes);
        assertEquals(1, codes[0]);
        assertEquals(2, codes[15]);
        assertEquals(3, g.zeroPoint(s, AT, 0));
        assertEquals(10, g.zeroPoint(s, AT, 1));
        assertEquals(7, g.zeroPoint(s, AT, 2));
        g.codes(s, AT, 2, codes);
        assertEquals(-2f, (codes[0] - g.zeroPoint(s, AT, 2)) * Float.float16ToFloat(g.scale(s, AT, 2)));

        byte[] garbage = new byte[INT4_ASYM.length];
        Arrays.fill(garbage, (byte) 0x5a); // the zero point of an even group must clear the high nibble
        MemorySegment w = stored(garbage);
        int[][] groups = {
            {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
            {1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2},
            {3, 4, 3, 4, 3, 4, 3, 4, 7, 7, 7, 7, 7, 7, 7, 7}};
        short[] scales = {0x3c00, 0x4000, 0x3800};
        int[] zps = {3, 10, 7};
        for (int k = 0; k < 3; k++) {
            g.putScale(w, AT, k, scales[k]);
            g.putZeroPoint(w, AT, k, zps[k]);
            for (int j = 0; j < 16; j += 2) {
                g.putPair(w, AT + g.codesAt(k), j, groups[k][j], groups[k][j + 1]);
            }
        }
        assertArrayEquals(INT4_ASYM, row(w));
    }

    @Test
    void int8() {
        IntRow sym = new IntRow(new QuantLayout(Scheme.INT8, 32, false), 40);
        assertEquals(2, sym.groups());
        assertEquals(32, sym.codesAt(1));
        assertEquals(64, sym.scaleAt(0));
        assertEquals(66, sym.scaleAt(1));
        assertEquals(0, sym.zeroPointBytes());
        assertEquals(68, sym.rowBytes());
        byte[] symRow = new byte[68];
        symRow[33] = (byte) 0xff;
        MemorySegment s = stored(symRow);
        assertEquals(255, sym.code(s, AT + sym.codesAt(1), 1));
        assertEquals(128, sym.zeroPoint(s, AT, 1));

        // int8, groups of 16, asymmetric, 17 values: 32 code bytes, scales at 32 and 34, zero points at 36 and 37.
        IntRow asym = new IntRow(new QuantLayout(Scheme.INT8, 16, true), 17);
        assertEquals(36, asym.zeroPointsAt());
        assertEquals(2, asym.zeroPointBytes());
        assertEquals(38, asym.rowBytes());
        byte[] asymRow = new byte[38];
        asymRow[36] = 0x11;
        asymRow[37] = (byte) 0xc8;
        s = stored(asymRow);
        assertEquals(17, asym.zeroPoint(s, AT, 0));
        assertEquals(200, asym.zeroPoint(s, AT, 1));
    }
}
