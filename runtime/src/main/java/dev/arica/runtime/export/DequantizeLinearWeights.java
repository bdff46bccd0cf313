package dev.arica.runtime.export;

import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.RowGeometry;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The initializers of a standard ONNX {@code DequantizeLinear} (opset 21, blocked along axis 0) feeding a
 * {@code MatMul}, for a weight stored quantized in an .arica file: the codes transposed to [K_padded, N] (MatMul
 * wants [in, out]), the fp16 scales [groups, N] and, for asymmetric int8/int4, the zero points [groups, N]. No
 * value changes: symmetric schemes become signed codes with the implicit zero point folded in (q8_0's int8 codes
 * as they are, q4_0 and symmetric int4 as q - 8 in int4, symmetric int8 as q - 128), asymmetric ones keep their
 * unsigned codes and zero points (uint8, uint4). 4-bit initializers are packed two elements a byte, the first in
 * the low nibble, in row-major order, as ONNX stores int4.
 *
 * @param layout the stored scheme
 * @param n rows of the stored tensor (output features)
 * @param k columns (input features; the last group may be padded)
 */
public record DequantizeLinearWeights(QuantLayout layout, long n, long k) {
    /** Bytes of codes gathered per pass: enough groups of columns to make long writes, few enough to stay small. */
    private static final long TILE_BYTES = 4L << 20;

    public long groups() {
        return layout.groups(k);
    }

    /** K rounded up to whole groups: the rows of the codes initializer (a Slice drops the padding). */
    public long paddedK() {
        return groups() * layout.groupSize();
    }

    public OnnxType codeType() {
        boolean four = layout.bits() == 4;
        if (layout.asymmetric()) {
            return four ? OnnxType.UINT4 : OnnxType.UINT8;
        }
        return four ? OnnxType.INT4 : OnnxType.INT8;
    }

    public OnnxWriter.Initializer codes(String name) {
        return new OnnxWriter.Initializer(name, codeType(), new long[] {paddedK(), n});
    }

    public OnnxWriter.Initializer scales(String name) {
        return new OnnxWriter.Initializer(name, OnnxType.FLOAT16, new long[] {groups(), n});
    }

    public OnnxWriter.Initializer zeroPoints(String name) {
        if (!layout.asymmetric()) {
            throw new IllegalStateException(layout.describe() + " has no zero points");
        }
        return new OnnxWriter.Initializer(name, layout.bits() == 4 ? OnnxType.UINT4 : OnnxType.UINT8,
                new long[] {groups(), n});
    }

    private void checkStored(MemorySegment stored) {
        layout.checkStored(stored, n, k);
    }

    /**
     * Writes the codes, [K_padded, N] row-major, through {@code scratch} (a few MB): a tile of whole groups of
     * columns is gathered from every stored row, then written out transposed.
     */
    public void writeCodes(MemorySegment stored, MemorySegment scratch, MatMulNBitsWeights.Sink sink) throws IOException {
        checkStored(stored);
        RowGeometry geometry = layout.geometry(k);
        int g = layout.groupSize();
        long groupsPerTile = Math.max(1, Math.min(groups(), TILE_BYTES / Math.max(1, (long) g * n)));
        byte[] tile = new byte[Math.toIntExact(groupsPerTile * g * n)];
        int[] block = new int[g];
        Packer out = new Packer(layout.bits(), scratch, sink);
        for (long g0 = 0; g0 < groups(); g0 += groupsPerTile) {
            long tileGroups = Math.min(groupsPerTile, groups() - g0);
            for (long r = 0; r < n; r++) {
                long row = r * geometry.rowBytes();
                for (long b = 0; b < tileGroups; b++) {
                    geometry.codes(stored, row, g0 + b, block);
                    // symmetric: the zero point folded into signed codes; asymmetric: it has its own initializer
                    int shift = layout.asymmetric() ? 0 : geometry.zeroPoint(stored, row, g0 + b);
                    for (int j = 0; j < g; j++) {
                        tile[(int) (((b * g) + j) * n + r)] = (byte) (block[j] - shift);
                    }
                }
            }
            out.put(tile, Math.toIntExact(tileGroups * g * n));
        }
        out.flush();
    }

    /** Writes the fp16 scales, [groups, N], one group of every row at a time. */
    public void writeScales(MemorySegment stored, MemorySegment scratch, MatMulNBitsWeights.Sink sink) throws IOException {
        checkStored(stored);
        RowGeometry geometry = layout.geometry(k);
        long perFlush = scratch.byteSize() / 2;
        long filled = 0;
        for (long b = 0; b < groups(); b++) {
            for (long r = 0; r < n; r++) {
                scratch.set(RowGeometry.F16, 2 * filled, geometry.scale(stored, r * geometry.rowBytes(), b));
                if (++filled == perFlush) {
                    sink.write(scratch.asSlice(0, 2 * filled));
                    filled = 0;
                }
            }
        }
        if (filled > 0) {
            sink.write(scratch.asSlice(0, 2 * filled));
        }
    }

    /** Writes the zero points (asymmetric layouts only), [groups, N], packed like the codes. */
    public void writeZeroPoints(MemorySegment stored, MemorySegment scratch, MatMulNBitsWeights.Sink sink)
            throws IOException {
        checkStored(stored);
        if (!layout.asymmetric()) {
            throw new IllegalStateException(layout.describe() + " has no zero points");
        }
        RowGeometry geometry = layout.geometry(k);
        Packer out = new Packer(layout.bits(), scratch, sink);
        byte[] one = new byte[1];
        for (long b = 0; b < groups(); b++) {
            for (long r = 0; r < n; r++) {
                one[0] = (byte) geometry.zeroPoint(stored, r * geometry.rowBytes(), b);
                out.put(one, 1);
            }
        }
        out.flush();
    }

    /** Element values in, bytes out: one per element for 8 bits, two per byte (low nibble first) for 4. */
    private static final class Packer {
        private final boolean four;
        private final MemorySegment buffer;
        private final MatMulNBitsWeights.Sink sink;
        private long filled;
        /** A low nibble waiting for its high one, or -1. */
        private int pending = -1;

        Packer(int bits, MemorySegment buffer, MatMulNBitsWeights.Sink sink) {
            this.four = bits == 4;
            this.buffer = buffer;
            this.sink = sink;
        }

        void put(byte[] values, int count) throws IOException {
            for (int i = 0; i < count; i++) {
                int v = values[i];
                if (four) {
                    if (pending < 0) {
                        pending = v & 0x0f;
                        continue;
                    }
                    v = pending | (v & 0x0f) << 4;
                    pending = -1;
                }
                buffer.set(ValueLayout.JAVA_BYTE, filled++, (byte) v);
                if (filled == buffer.byteSize()) {
                    sink.write(buffer);
                    filled = 0;
                }
            }
        }

        void flush() throws IOException {
            if (pending >= 0) {
                buffer.set(ValueLayout.JAVA_BYTE, filled++, (byte) pending);
                pending = -1;
            }
            if (filled > 0) {
                sink.write(buffer.asSlice(0, filled));
                filled = 0;
            }
        }
    }
}
