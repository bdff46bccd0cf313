package dev.arica.runtime.export;

import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.Progress;
import dev.arica.formats.QuantizedCheckpoint;
import dev.arica.formats.Tensor;
import dev.arica.formats.arica.ColumnOrder;
import dev.arica.formats.io.MappedMemory;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.quantize.Quantizer;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

/**
 * Writes an export's initializers into the ONNX data file, one at a time and in bounded memory: float weights from
 * their mapping (cast in chunks when asked), quantized ones dequantized or repacked into their graph planes, and
 * computed tables.
 */
final class WeightWriter {
    /** Bytes copied per write from a mapping, then released: 16 MiB. */
    private static final long COPY_SLICE = 16L << 20;

    private static final ValueLayout.OfLong I64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Elements cast per write: a few MB of buffer. */
    static final int CAST_CHUNK = 1 << 20;

    private WeightWriter() {}

    /** Writes {@code src} as {@code to}: straight from its mapping, or cast chunk by chunk through {@code buffer}. */
    static void stream(Tensor src, DType to, OnnxWriter w, MemorySegment buffer, Progress progress)
            throws IOException {
        w.begin(src.name());
        DType from = src.info().dtype();
        if (from == to) {
            for (MemorySegment part : src.parts()) {
                // In slices, each dropped from the resident set once written: a 260 MB embedding table is never
                // resident whole.
                for (long off = 0; off < part.byteSize(); off += COPY_SLICE) {
                    MemorySegment slice = part.asSlice(off, Math.min(COPY_SLICE, part.byteSize() - off));
                    w.write(slice);
                    MappedMemory.release(slice);
                    progress.advance(slice.byteSize());
                }
            }
            return;
        }
        // Parts (rows, for a permuted import) are cast into one buffer and written when it is full.
        long capacity = buffer.byteSize() / to.byteSize();
        long filled = 0;
        for (MemorySegment part : src.parts()) {
            long n = part.byteSize() / from.byteSize();
            for (long e = 0; e < n; ) {
                long m = Math.min(n - e, capacity - filled);
                FloatCast.cast(from, part.asSlice(from.bytesFor(e), from.bytesFor(m)), to,
                        buffer.asSlice(to.bytesFor(filled), to.bytesFor(m)), m);
                filled += m;
                e += m;
                if (filled == capacity) {
                    w.write(buffer.asSlice(0, to.bytesFor(filled)));
                    progress.advance(to.bytesFor(filled));
                    filled = 0;
                }
            }
            MappedMemory.release(part);
        }
        if (filled > 0) {
            w.write(buffer.asSlice(0, to.bytesFor(filled)));
            progress.advance(to.bytesFor(filled));
        }
    }

    /**
     * Writes a quantized tensor the graph reads as floats (an embedding table for Gather) dequantized, rows at a
     * time through {@code buffer}: the stored values exactly (a permuted one's columns back in order), in float32 or
     * rounded to f16.
     */
    static void dequantize(QuantizedCheckpoint in, DecoderGraph.QuantizedWeight q, DType to, OnnxWriter w,
            MemorySegment buffer, Progress progress) throws IOException {
        w.begin(q.name());
        Quantizer quantizer = Quantizer.of(q.layout());
        long rowsPerChunk = Math.max(1, buffer.byteSize() / (q.k() * Float.BYTES));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment stored = in.stored(q.name(), arena);
            ColumnOrder order = in.columnOrder(q.name(), stored).orElse(null);
            MemorySegment dequantized = arena.allocate(q.k() * Float.BYTES * rowsPerChunk);
            MemorySegment f32 = order == null ? dequantized : arena.allocate(dequantized.byteSize());
            MemorySegment cast = to == DType.F32 ? f32 : arena.allocate(q.k() * to.byteSize() * rowsPerChunk);
            for (long r = 0; r < q.n(); r += rowsPerChunk) {
                long rows = Math.min(rowsPerChunk, q.n() - r);
                long rowBytes = q.layout().rowBytes(q.k());
                quantizer.dequantize(stored.asSlice(r * rowBytes, rows * rowBytes), rows, q.k(), dequantized);
                if (order != null) {
                    order.unpermute(dequantized, f32, rows);
                }
                long elements = rows * q.k();
                MemorySegment out;
                if (to == DType.F32) {
                    out = f32.asSlice(0, elements * Float.BYTES);
                } else {
                    FloatCast.cast(DType.F32, f32.asSlice(0, elements * Float.BYTES), to, cast, elements);
                    out = cast.asSlice(0, to.bytesFor(elements));
                }
                w.write(out);
                progress.advance(out.byteSize());
                MappedMemory.release(stored.asSlice(r * rowBytes, rows * rowBytes));
            }
        }
    }

    /**
     * Writes the planes repacked from quantized weights, each weight's stored bytes read once per plane
     * (decompressed once per weight when compressed).
     */
    static void writePlanes(QuantizedCheckpoint in, List<DecoderGraph.Plane> planes, OnnxWriter w, MemorySegment buffer,
            Progress progress) throws IOException {
        Arena arena = null;
        String current = null;
        MemorySegment raw = null;
        MemorySegment stored = null;
        MatMulNBitsWeights nbits = null;
        DequantizeLinearWeights dq = null;
        MatMulNBitsWeights.Sink sink = bytes -> {
            w.write(bytes);
            progress.advance(bytes.byteSize());
        };
        try {
            for (DecoderGraph.Plane p : planes) {
                DecoderGraph.QuantizedWeight q = p.weight();
                if (!q.name().equals(current)) {
                    if (arena != null) {
                        // Done with the previous weight: its mapped pages leave the resident set (memory stays flat).
                        MappedMemory.release(stored);
                        arena.close();
                    }
                    arena = Arena.ofConfined();
                    raw = in.stored(q.name(), arena);
                    // A permuted weight's column order follows its rows; the planes are made of the rows.
                    stored = raw.asSlice(0, q.layout().bytes(q.n(), q.k()));
                    current = q.name();
                    nbits = new MatMulNBitsWeights(q.layout(), q.n(), q.k());
                    dq = new DequantizeLinearWeights(q.layout(), q.n(), q.k());
                }
                w.begin(p.initializer().name());
                switch (p.kind()) {
                    case NBITS_CODES -> nbits.writeCodes(stored, buffer, sink);
                    case NBITS_SCALES -> nbits.writeScales(stored, buffer, sink);
                    case NBITS_ZERO_POINTS -> nbits.writeZeroPoints(stored, buffer, sink);
                    case DQ_CODES -> dq.writeCodes(stored, buffer, sink);
                    case DQ_SCALES -> dq.writeScales(stored, buffer, sink);
                    case DQ_ZERO_POINTS -> dq.writeZeroPoints(stored, buffer, sink);
                    case COLUMN_ORDER -> writeColumnOrder(in.columnOrder(q.name(), raw).orElseThrow(), buffer, sink);
                }
            }
        } finally {
            if (arena != null) {
                MappedMemory.release(stored);
                arena.close();
            }
        }
    }

    /** Writes a column order as the int64 indices of a Gather, through {@code buffer}. */
    private static void writeColumnOrder(ColumnOrder order, MemorySegment buffer, MatMulNBitsWeights.Sink sink)
            throws IOException {
        long capacity = buffer.byteSize() / Long.BYTES;
        for (int j = 0; j < order.size(); ) {
            int m = (int) Math.min(capacity, order.size() - j);
            for (int i = 0; i < m; i++) {
                buffer.setAtIndex(I64_LE, i, order.get(j + i));
            }
            sink.write(buffer.asSlice(0, (long) m * Long.BYTES));
            j += m;
        }
    }

    /** Writes a computed float32 initializer, filled chunk by chunk through {@code buffer}. */
    static void compute(DecoderGraph.Computed t, OnnxWriter w, MemorySegment buffer, Progress progress)
            throws IOException {
        w.begin(t.info().name());
        long n = t.info().elements();
        long capacity = buffer.byteSize() / Float.BYTES;
        for (long e = 0; e < n; ) {
            long m = Math.min(n - e, capacity);
            for (long k = 0; k < m; k++) {
                buffer.setAtIndex(FloatCast.F32_LE, k, (float) t.element().applyAsDouble(e + k));
            }
            w.write(buffer.asSlice(0, m * Float.BYTES));
            progress.advance(m * Float.BYTES);
            e += m;
        }
    }
}
