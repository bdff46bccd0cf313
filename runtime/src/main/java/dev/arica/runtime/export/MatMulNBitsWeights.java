package dev.arica.runtime.export;

import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.quant.GgmlRow;
import dev.arica.formats.quant.IntRow;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.RowGeometry;
import dev.arica.formats.quant.Scheme;
import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * The inputs of ONNX Runtime's {@code MatMulNBits} (com.microsoft) for a weight stored quantized in an .arica
 * file, repacked from the stored bytes without changing a value: B {@code uint8 [N, k_blocks, blob]}, the
 * scales {@code [N, k_blocks]} (kept fp16 here; the graph casts them to the activation type) and, for
 * asymmetric int8/int4, the packed zero points {@code uint8 [N, ceil(k_blocks * bits / 8)]}.
 *
 * <p>The stored row is read through its {@link RowGeometry}, whose unsigned codes and zero points follow
 * MatMulNBits' rule (value = (code - zero point) * scale, default zero point 2^(bits-1)), and B is written in
 * the order of an int8/int4 row's codes ({@link IntRow}):
 * <ul>
 *   <li>{@code int8}/{@code int4}: each stored row already is [codes | scales | zero points] in MatMulNBits
 *       order; the planes are the row pieces regrouped.</li>
 *   <li>{@code q8_0}, {@code q4_0}: the GGML blocks' codes, read unsigned, are packed in that order.</li>
 * </ul>
 *
 * @param layout the stored scheme
 * @param n rows of the stored tensor (output features)
 * @param k columns (input features; the last block may be padded)
 */
public record MatMulNBitsWeights(QuantLayout layout, long n, long k) {
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

    /** The int8/int4 row whose codes are B's row: the stored one, or, for GGML blocks, its symmetric twin. */
    private IntRow planes() {
        Scheme scheme = bits() == 8 ? Scheme.INT8 : Scheme.INT4;
        return new IntRow(new QuantLayout(scheme, blockSize(), hasZeroPoints()), k);
    }

    private void checkStored(MemorySegment stored) {
        layout.checkStored(stored, n, k);
    }

    /** Writes B, row after row, through {@code scratch} (at least one row of codes). */
    public void writeCodes(MemorySegment stored, MemorySegment scratch, Sink sink) throws IOException {
        checkStored(stored);
        long rowCodes = blocks() * blob();
        RowGeometry geometry = layout.geometry(k);
        IntRow planes = planes();
        writeRows(stored, rowCodes, scratch, sink, (src, dst) -> {
            switch (geometry) {
                case IntRow same -> MemorySegment.copy(src, same.codesAt(0), dst, 0, rowCodes);
                case GgmlRow blocks -> repack(blocks, src, planes, dst);
            }
        });
    }

    /** Writes the fp16 scales, row after row, through {@code scratch}. */
    public void writeScales(MemorySegment stored, MemorySegment scratch, Sink sink) throws IOException {
        checkStored(stored);
        long rowScales = blocks() * 2;
        RowGeometry geometry = layout.geometry(k);
        long blocks = blocks();
        writeRows(stored, rowScales, scratch, sink, (src, dst) -> {
            for (long b = 0; b < blocks; b++) {
                dst.set(RowGeometry.F16, 2 * b, geometry.scale(src, 0, b));
            }
        });
    }

    /** Writes the packed zero points (asymmetric layouts only), row after row, through {@code scratch}. */
    public void writeZeroPoints(MemorySegment stored, MemorySegment scratch, Sink sink) throws IOException {
        checkStored(stored);
        if (!(layout.geometry(k) instanceof IntRow row) || !row.asymmetric()) {
            throw new IllegalStateException(layout.describe() + " has no zero points");
        }
        long rowZp = zeroPointBytesPerRow();
        long at = row.zeroPointsAt();
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

    /** One row of GGML blocks to B's row: each block's unsigned codes packed as {@code planes} packs a group. */
    private static void repack(GgmlRow blocks, MemorySegment src, IntRow planes, MemorySegment dst) {
        int[] q = new int[GgmlRow.GROUP];
        for (long b = 0; b < blocks.groups(); b++) {
            blocks.codes(src, 0, b, q);
            long at = planes.codesAt(b);
            for (int j = 0; j < q.length; j += 2) {
                planes.putPair(dst, at, j, q[j], q[j + 1]);
            }
        }
    }
}
