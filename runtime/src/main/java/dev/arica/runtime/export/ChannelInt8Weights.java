package dev.arica.runtime.export;

import dev.arica.formats.FloatCast;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.formats.quant.RowGeometry;
import dev.arica.quantize.ErrorStats;
import dev.arica.quantize.Quantizer;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A float weight [N, K] in int8 per output feature (row): one fp16 scale per row, symmetric, no zero point. For the
 * operators that scale each output once after an integer product over the whole K: ONNX Runtime's
 * MatMulIntegerToFloat (B int8 [K, N], b_scale [N]: ONNX Runtime's fastest CPU path for a batch of rows, with the
 * activations quantized to uint8 per tensor at run time), and a Gather table dequantized by Cast and Mul (codes
 * [N, K], scales [N, 1]), which ONNX Runtime folds into a float table when it loads the model. Coarser than arica's
 * groups along K.
 *
 * <p>Row n with d = max over k of |W[n, k]| (float32): s = fp16(d / 127), and the fp16 scale itself quantizes,
 * q = clamp(round-half-away(x / s), -127, 127); value q * s; a row of zeros (or one whose scale underflows fp16)
 * has s = 0 and codes 0.
 *
 * <p>Stored in memory as the codes [N, K] row after row, then the N scales.
 *
 * @param n output features, rows (N)
 * @param k input features, columns (K)
 */
record ChannelInt8Weights(long n, long k) {
    static final int MAX_CODE = 127;

    /** The codes as MatMulIntegerToFloat's B: [K, N]. */
    OnnxWriter.Initializer columns(String name) {
        return new OnnxWriter.Initializer(name, OnnxType.INT8, new long[] {k, n});
    }

    /** The codes as a table: [N, K]. */
    OnnxWriter.Initializer rows(String name) {
        return new OnnxWriter.Initializer(name, OnnxType.INT8, new long[] {n, k});
    }

    /** The scales with {@code dims} (N elements: [N] for a product, [N, 1] for a table). */
    OnnxWriter.Initializer scales(String name, long... dims) {
        return new OnnxWriter.Initializer(name, OnnxType.FLOAT16, dims);
    }

    /** Bytes held in memory: the codes, then the scales. */
    long bytes() {
        return Math.addExact(Math.multiplyExact(n, k), Math.multiplyExact(n, 2L));
    }

    /**
     * Quantizes rows {@code [first, first + rows)}, float32 rows of K in {@code f32}, into {@code stored}, and adds
     * their error to {@code error} (flat indexes of the [N, K] matrix). Refuses a NaN or an infinity, naming
     * {@code tensor} and the element.
     */
    void quantizeRows(String tensor, MemorySegment f32, long first, long rows, MemorySegment stored, ErrorStats error) {
        long bad = Quantizer.firstNonFinite(f32, rows * k);
        if (bad >= 0) {
            throw new IllegalArgumentException("tensor '" + tensor + "': non-finite value "
                    + f32.getAtIndex(FloatCast.F32_LE, bad) + " at element " + ((first + bad / k) * k + bad % k)
                    + " (row " + (first + bad / k) + ", column " + bad % k + ")");
        }
        for (long r = 0; r < rows; r++) {
            long row = r * k;
            float max = 0;
            for (long c = 0; c < k; c++) {
                max = Math.max(max, Math.abs(f32.getAtIndex(FloatCast.F32_LE, row + c)));
            }
            short half = Float.floatToFloat16(max / MAX_CODE);
            float s = Float.float16ToFloat(half);
            if (Float.isInfinite(s)) {
                throw new IllegalArgumentException("tensor '" + tensor + "': scale " + max / MAX_CODE + " of row "
                        + (first + r) + " overflows fp16 (largest finite 65504)");
            }
            stored.set(RowGeometry.F16, n * k + 2 * (first + r), half);
            long at = (first + r) * k;
            for (long c = 0; c < k; c++) {
                float x = f32.getAtIndex(FloatCast.F32_LE, row + c);
                int q = s == 0 ? 0 : Math.clamp((int) Math.copySign(Math.floor(Math.abs(x / s) + 0.5f), x), -MAX_CODE,
                        MAX_CODE);
                stored.set(ValueLayout.JAVA_BYTE, at + c, (byte) q);
                error.add(x, q * s, at + c);
            }
        }
    }

    /** Writes the codes as [K, N] (column n is row n), through {@code scratch}. */
    void writeColumns(MemorySegment stored, MemorySegment scratch, MatMulNBitsWeights.Sink sink) throws IOException {
        long perFlush = Math.max(1, scratch.byteSize() / n);
        long filled = 0;
        for (long c = 0; c < k; c++) {
            MemorySegment out = scratch.asSlice(filled * n, n);
            for (long r = 0; r < n; r++) {
                out.set(ValueLayout.JAVA_BYTE, r, stored.get(ValueLayout.JAVA_BYTE, r * k + c));
            }
            if (++filled == perFlush) {
                sink.write(scratch.asSlice(0, filled * n));
                filled = 0;
            }
        }
        if (filled > 0) {
            sink.write(scratch.asSlice(0, filled * n));
        }
    }

    /** Writes the codes as [N, K]. */
    void writeRows(MemorySegment stored, MatMulNBitsWeights.Sink sink) throws IOException {
        sink.write(stored.asSlice(0, n * k));
    }

    /** Writes the N fp16 scales. */
    void writeScales(MemorySegment stored, MatMulNBitsWeights.Sink sink) throws IOException {
        sink.write(stored.asSlice(n * k, n * 2));
    }
}
