package dev.arica.runtime.export;

import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * The inputs of ONNX Runtime's {@code MatMulNBits} (com.microsoft) for a weight stored quantized in an .arica
 * file, repacked from the stored bytes without changing a value: B {@code uint8 [N, k_blocks, blob]}, the
 * scales {@code [N, k_blocks]} (kept fp16 here; the graph casts them to the activation type) and, for
 * asymmetric int8/int4, the packed zero points {@code uint8 [N, ceil(k_blocks * bits / 8)]}.
 *
 * <ul>
 *   <li>{@code int8}/{@code int4}: each stored row already is [codes | scales | zero points] in MatMulNBits
 *       order; the planes are the row pieces regrouped.</li>
 *   <li>{@code q8_0}: code q (int8) becomes q + 128 with MatMulNBits' default 8-bit zero point 128.</li>
 *   <li>{@code q4_0}: codes 0..15 with the default 4-bit zero point 8; GGML pairs element j with j + 16 in a
 *       byte, MatMulNBits pairs 2i with 2i + 1, so the nibbles are re-paired.</li>
 * </ul>
 *
 * @param layout the stored scheme
 * @param n rows of the stored tensor (output features)
 * @param k columns (input features; the last block may be padded)
 */
public record MatMulNBitsWeights(QuantLayout layout, long n, long k) {
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN);

    /** Receives the planes' bytes in order. */
    @FunctionalInterface
    public interface Sink {
        void write(MemorySegment bytes) throws IOException;
    }

    public int bits() {
        return layout.bits();
    }

    public int blockSize() {
        return layout.groupSize();
    }

    public long blocks() {
        return layout.groups(k);
    }

    /** Bytes of one block of codes. */
    public int blob() {
        return layout.groupCodeBytes();
    }

    /** Whether a zero-point input is needed (else MatMulNBits' default 2^(bits-1) is the stored one). */
    public boolean hasZeroPoints() {
        return layout.asymmetric();
    }

    public long zeroPointBytesPerRow() {
        return (blocks() * bits() + 7) / 8;
    }

    public TensorInfo codes(String name) {
        return new TensorInfo(name, DType.U8, new long[] {n, blocks(), blob()});
    }

    public TensorInfo scales(String name) {
        return new TensorInfo(name, DType.F16, new long[] {n, blocks()});
    }

    public TensorInfo zeroPoints(String name) {
        return new TensorInfo(name, DType.U8, new long[] {n, zeroPointBytesPerRow()});
    }

    private long rowBytes() {
        return layout.rowBytes(k);
    }

    private void checkStored(MemorySegment stored) {
        layout.checkStored(stored, n, k);
    }

    /** Writes B, row after row, through {@code scratch} (at least one row of codes). */
    public void writeCodes(MemorySegment stored, MemorySegment scratch, Sink sink) throws IOException {
        checkStored(stored);
        long rowCodes = blocks() * blob();
        writeRows(stored, rowCodes, scratch, sink, (src, dst) -> {
            switch (layout.scheme()) {
                case INT8, INT4 -> MemorySegment.copy(src, 0, dst, 0, rowCodes);
                case Q8_0 -> q8Codes(src, dst);
                case Q4_0 -> q4Codes(src, dst);
            }
        });
    }

    /** Writes the fp16 scales, row after row, through {@code scratch}. */
    public void writeScales(MemorySegment stored, MemorySegment scratch, Sink sink) throws IOException {
        checkStored(stored);
        long rowScales = blocks() * 2;
        writeRows(stored, rowScales, scratch, sink, (src, dst) -> {
            if (layout.scheme() == Scheme.INT8 || layout.scheme() == Scheme.INT4) {
                MemorySegment.copy(src, layout.rowCodeBytes(k), dst, 0, rowScales);
            } else {
                long block = 2 + blob();
                for (long b = 0; b < blocks(); b++) {
                    dst.set(F16, 2 * b, src.get(F16, b * block));
                }
            }
        });
    }

    /** Writes the packed zero points (asymmetric layouts only), row after row, through {@code scratch}. */
    public void writeZeroPoints(MemorySegment stored, MemorySegment scratch, Sink sink) throws IOException {
        checkStored(stored);
        if (!hasZeroPoints()) {
            throw new IllegalStateException(layout.describe() + " has no zero points");
        }
        long rowZp = zeroPointBytesPerRow();
        long at = layout.rowCodeBytes(k) + blocks() * 2;
        writeRows(stored, rowZp, scratch, sink, (src, dst) -> MemorySegment.copy(src, at, dst, 0, rowZp));
    }

    /** Fills one output row from one stored row. */
    private interface RowFill {
        void fill(MemorySegment storedRow, MemorySegment outRow);
    }

    /** Every stored row turned into {@code outRowBytes} by {@code fill}, batched in {@code scratch} between writes. */
    private void writeRows(MemorySegment stored, long outRowBytes, MemorySegment scratch, Sink sink, RowFill fill)
            throws IOException {
        long rowsPerFlush = Math.max(1, scratch.byteSize() / outRowBytes);
        long filled = 0;
        for (long r = 0; r < n; r++) {
            fill.fill(stored.asSlice(r * rowBytes(), rowBytes()), scratch.asSlice(filled * outRowBytes, outRowBytes));
            if (++filled == rowsPerFlush) {
                sink.write(scratch.asSlice(0, filled * outRowBytes));
                filled = 0;
            }
        }
        if (filled > 0) {
            sink.write(scratch.asSlice(0, filled * outRowBytes));
        }
    }

    /** One row of q8_0 blocks [d | 32 x int8] to MatMulNBits codes (q + 128). */
    private void q8Codes(MemorySegment src, MemorySegment dst) {
        long blocks = blocks();
        for (long b = 0; b < blocks; b++) {
            long s = b * 34 + 2;
            long d = b * 32;
            for (int j = 0; j < 32; j++) {
                dst.set(ValueLayout.JAVA_BYTE, d + j, (byte) (src.get(ValueLayout.JAVA_BYTE, s + j) ^ 0x80));
            }
        }
    }

    /** One row of q4_0 blocks [d | 16 bytes: j and j + 16] to adjacent-pair nibbles (2i low, 2i + 1 high). */
    private void q4Codes(MemorySegment src, MemorySegment dst) {
        long blocks = blocks();
        int[] q = new int[32];
        for (long b = 0; b < blocks; b++) {
            long s = b * 18 + 2;
            for (int j = 0; j < 16; j++) {
                int v = src.get(ValueLayout.JAVA_BYTE, s + j) & 0xff;
                q[j] = v & 0x0f;
                q[j + 16] = v >>> 4;
            }
            long d = b * 16;
            for (int i = 0; i < 16; i++) {
                dst.set(ValueLayout.JAVA_BYTE, d + i, (byte) (q[2 * i] | q[2 * i + 1] << 4));
            }
        }
    }
}
