package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The portable planes, read back with DequantizeLinear's rule (blocked along axis 0 of [K_padded, N]: value =
 * (code - zero point) x scale, 4-bit types two's complement or unsigned, two elements a byte in row-major order,
 * the first in the low nibble, zero point 0 when absent), give exactly the quantizer's dequantized values. An odd
 * N makes 4-bit rows of the codes and zero points end in the middle of a byte.
 */
class DequantizeLinearWeightsTest {
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @ParameterizedTest
    @CsvSource({"q8_0, 32, false, INT8", "q4_0, 32, false, INT4", "int8, 32, false, INT8", "int8, 128, true, UINT8",
        "int4, 32, false, INT4", "int4, 16, true, UINT4", "int4, 64, true, UINT4", "int8, 16, true, UINT8"})
    void planesDequantizeToTheStoredValues(String scheme, int group, boolean asym, OnnxType codeType) throws Exception {
        QuantLayout layout = new QuantLayout(Scheme.parse(scheme).orElseThrow(), group, asym);
        for (long n : new long[] {7, 8}) {
            for (long k : new long[] {172, 256, 40}) {
                check(layout, n, k, codeType);
            }
        }
    }

    private static void check(QuantLayout layout, long n, long k, OnnxType codeType) throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            PlaneBytes.Stored t = PlaneBytes.quantizeRandom(arena, layout, n, k, n * 1000 + k * 31 + layout.groupSize());
            MemorySegment stored = t.stored();
            MemorySegment expect = t.expected();

            DequantizeLinearWeights w = new DequantizeLinearWeights(layout, n, k);
            assertEquals(codeType, w.codeType());
            // A scratch buffer smaller than a row of the output, so that flushes fall inside rows and nibbles.
            MemorySegment scratch = arena.allocate(5);
            MemorySegment codes = PlaneBytes.collect(s -> w.writeCodes(stored, scratch, s));
            MemorySegment scales = PlaneBytes.collect(s -> w.writeScales(stored, scratch, s));
            MemorySegment zps = layout.asymmetric() ? PlaneBytes.collect(s -> w.writeZeroPoints(stored, scratch, s)) : null;
            assertEquals(w.codes("c").byteSize(), codes.byteSize());
            assertEquals(w.scales("s").byteSize(), scales.byteSize());
            if (zps != null) {
                assertEquals(w.zeroPoints("z").byteSize(), zps.byteSize());
            }
            int g = layout.groupSize();
            for (long row = 0; row < n; row++) {
                for (long c = 0; c < k; c++) {
                    long b = c / g;
                    int code = element(codes, c * n + row, codeType);
                    int zp = zps == null ? 0 : element(zps, b * n + row, layout.bits() == 4 ? OnnxType.UINT4 : OnnxType.UINT8);
                    float scale = Float.float16ToFloat(scales.get(I16, 2 * (b * n + row)));
                    float value = (code - zp) * scale;
                    long at = row * k + c;
                    assertEquals(expect.getAtIndex(F32, at), value, 0f,
                            () -> layout.describe() + " n=" + n + " k=" + k + " at element " + at);
                }
            }
        }
    }

    /** Element {@code i} of a row-major tensor of {@code type}. */
    private static int element(MemorySegment data, long i, OnnxType type) {
        return switch (type) {
            case INT8 -> data.get(ValueLayout.JAVA_BYTE, i);
            case UINT8 -> data.get(ValueLayout.JAVA_BYTE, i) & 0xff;
            case INT4, UINT4 -> {
                int nibble = (data.get(ValueLayout.JAVA_BYTE, i / 2) >>> (i % 2 == 0 ? 0 : 4)) & 0x0f;
                yield type == OnnxType.INT4 && nibble >= 8 ? nibble - 16 : nibble;
            }
            default -> throw new IllegalArgumentException(type.toString());
        };
    }

}
