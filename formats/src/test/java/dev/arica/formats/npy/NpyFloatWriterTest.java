package dev.arica.formats.npy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The .npy bytes checked by hand: the header NumPy writes, then the float32 values little-endian in C order. */
class NpyFloatWriterTest {

    @TempDir
    Path tmp;

    /** What numpy 2.4.6 wrote for np.save(f, np.zeros((2, 3), dtype='<f4')) before the data. */
    static byte[] numpyHeader2x3() {
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
        byte[] out = new byte[128];
        byte[] start = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 118, 0};
        System.arraycopy(start, 0, out, 0, start.length);
        byte[] d = dict.getBytes(StandardCharsets.US_ASCII);
        System.arraycopy(d, 0, out, 10, d.length);
        for (int i = 10 + d.length; i < 127; i++) {
            out[i] = ' ';
        }
        out[127] = '\n';
        return out;
    }

    @Test
    void theHeaderIsNumpysByteForByte() {
        assertArrayEquals(numpyHeader2x3(), NpyFloatWriter.header(2, 3));
    }

    @Test
    void headersArePaddedToWholeAlignmentUnitsAndEndInANewline() {
        for (long[] shape : new long[][] {{7}, {}, {256, 512}, {0, 4}, {4, 3, 2}, {Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE}}) {
            byte[] h = NpyFloatWriter.header(shape);
            assertEquals(0, h.length % 64, () -> h.length + " bytes");
            int length = (h[8] & 0xff) | (h[9] & 0xff) << 8;
            assertEquals(h.length - 10, length, "the length field counts what follows it");
            assertEquals('\n', h[h.length - 1]);
            String text = new String(h, 10, length, StandardCharsets.US_ASCII);
            assertEquals(text.stripTrailing(), text.substring(0, text.indexOf('}') + 1), "only spaces after the dict");
        }
        assertEquals("{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }", dict(NpyFloatWriter.header(7)));
        assertEquals("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", dict(NpyFloatWriter.header()));
        assertEquals("{'descr': '<f4', 'fortran_order': False, 'shape': (4, 3, 2), }", dict(NpyFloatWriter.header(4, 3, 2)));
        // Four 19-digit dimensions make a 137-character dict: the header takes the next 64 bytes.
        assertEquals(192, NpyFloatWriter.header(Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE).length);
    }

    private static String dict(byte[] header) {
        String s = new String(header, 10, header.length - 10, StandardCharsets.US_ASCII);
        return s.substring(0, s.indexOf('}') + 1);
    }

    @Test
    void rowsFollowTheHeaderLittleEndianInCOrder() throws IOException {
        Path file = tmp.resolve("a.npy");
        float[][] rows = {{1.5f, -2f, Float.NaN}, {Float.NEGATIVE_INFINITY, 0x1.fffffep127f, -0f}};
        try (NpyFloatWriter w = NpyFloatWriter.create(file, 2, 3)) {
            for (float[] r : rows) {
                w.writeRow(r);
            }
            assertEquals(2, w.rowsWritten());
            w.finish();
        }
        byte[] all = Files.readAllBytes(file);
        assertEquals(128 + 2 * 3 * 4, all.length);
        assertArrayEquals(numpyHeader2x3(), java.util.Arrays.copyOf(all, 128));
        ByteBuffer data = ByteBuffer.wrap(all, 128, all.length - 128).slice().order(ByteOrder.LITTLE_ENDIAN);
        for (int r = 0; r < 2; r++) {
            for (int c = 0; c < 3; c++) {
                int bits = data.getInt((r * 3 + c) * 4);
                assertEquals(Float.floatToRawIntBits(rows[r][c]), bits, "row " + r + ", column " + c);
            }
        }
        // Little-endian: 1.5f is 0x3fc00000, its lowest byte first.
        assertArrayEquals(new byte[] {0, 0, (byte) 0xc0, 0x3f}, java.util.Arrays.copyOfRange(all, 128, 132));
    }

    @Test
    void anEmptyArrayIsTheHeaderAlone() throws IOException {
        Path file = tmp.resolve("empty.npy");
        try (NpyFloatWriter w = NpyFloatWriter.create(file, 0, 512)) {
            w.finish();
        }
        assertArrayEquals(NpyFloatWriter.header(0, 512), Files.readAllBytes(file));
    }

    @Test
    void wrongRowsAreRefused() throws IOException {
        Path file = tmp.resolve("b.npy");
        try (NpyFloatWriter w = NpyFloatWriter.create(file, 1, 3)) {
            assertThrows(IllegalArgumentException.class, () -> w.writeRow(new float[2]));
            assertEquals("b.npy: 0 of 1 rows written",
                    assertThrows(IllegalStateException.class, w::finish).getMessage().replace(tmp + "/", ""));
            w.writeRow(new float[3]);
            assertThrows(IllegalStateException.class, () -> w.writeRow(new float[3]));
            w.finish();
        }
        assertThrows(IllegalArgumentException.class, () -> NpyFloatWriter.create(tmp.resolve("c.npy"), -1, 3));
    }
}
