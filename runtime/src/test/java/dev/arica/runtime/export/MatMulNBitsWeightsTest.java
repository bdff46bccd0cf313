package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The repacked planes, read back with MatMulNBits' own rule (value = (code - zero point) * scale, 4-bit
 * elements 2i low and 2i + 1 high, default zero point 2^(bits-1)), give exactly the quantizer's dequantized
 * values: repacking changed no value.
 */
class MatMulNBitsWeightsTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @ParameterizedTest
    @CsvSource({"q8_0, 32, false", "q4_0, 32, false", "int8, 32, false", "int8, 128, true", "int4, 32, false",
        "int4, 16, true", "int4, 64, true", "int8, 16, true"})
    void planesDequantizeToTheStoredValues(String scheme, int group, boolean asym) throws Exception {
        QuantLayout layout = new QuantLayout(Scheme.parse(scheme).orElseThrow(), group, asym);
        long n = 7;
        for (long k : new long[] {172, 256, 40}) {
            try (Arena arena = Arena.ofConfined()) {
                PlaneBytes.Stored t = PlaneBytes.quantizeRandom(arena, layout, n, k, k * 31 + group);
                MemorySegment stored = t.stored();
                MemorySegment expect = t.expected();

                MatMulNBitsWeights w = new MatMulNBitsWeights(layout, n, k);
                // Room for one row and a bit: one row per flush, so row boundaries are crossed.
                MemorySegment scratch = arena.allocate(w.blocks() * w.blob() + 5);
                MemorySegment codes = PlaneBytes.collect(s -> w.writeCodes(stored, scratch, s::write));
                MemorySegment scales = PlaneBytes.collect(s -> w.writeScales(stored, scratch, s::write));
                MemorySegment zps = asym ? PlaneBytes.collect(s -> w.writeZeroPoints(stored, scratch, s::write)) : null;
                assertEquals(w.codes("b").byteSize(), codes.byteSize());
                assertEquals(w.scales("s").byteSize(), scales.byteSize());
                if (asym) {
                    assertEquals(w.zeroPoints("z").byteSize(), zps.byteSize());
                }
                int bits = layout.bits();
                long blocks = w.blocks();
                for (long row = 0; row < n; row++) {
                    for (long c = 0; c < k; c++) {
                        long blk = c / group;
                        long inBlock = c % group;
                        long base = (row * blocks + blk) * w.blob();
                        int code = bits == 8 ? codes.get(ValueLayout.JAVA_BYTE, base + inBlock) & 0xff
                                : (codes.get(ValueLayout.JAVA_BYTE, base + inBlock / 2) >>> (inBlock % 2 == 0 ? 0 : 4)) & 0x0f;
                        int zp = 1 << (bits - 1);
                        if (asym) {
                            long zrow = row * w.zeroPointBytesPerRow();
                            zp = bits == 8 ? zps.get(ValueLayout.JAVA_BYTE, zrow + blk) & 0xff
                                    : (zps.get(ValueLayout.JAVA_BYTE, zrow + blk / 2) >>> (blk % 2 == 0 ? 0 : 4)) & 0x0f;
                        }
                        float scale = Float.float16ToFloat(scales.get(I16, 2 * (row * blocks + blk)));
                        float value = (code - zp) * scale;
                        long at = row * k + c;
                        assertEquals(expect.getAtIndex(F32, at), value, 0f, () -> scheme + " k=" + k + " at element " + at);
                    }
                }
            }
        }
    }

}
