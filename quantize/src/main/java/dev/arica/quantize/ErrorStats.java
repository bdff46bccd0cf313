package dev.arica.quantize;

import static dev.arica.quantize.Kernels.F32;

import java.lang.foreign.MemorySegment;
import java.util.Locale;

/**
 * Quantization error of a tensor, accumulated over chunks (in double) and mergeable across threads: element
 * count, sum of squares of the reference signal, sum of squared errors, and the largest absolute error with
 * the flat index of its first occurrence.
 *
 * <p>An element's error is {@code |x - y|} of its float32 reference x and approximation y, computed in float32 (as
 * the fused quantize kernels compute it in registers: {@link Quantizer#quantizeRows(MemorySegment, MemorySegment,
 * long, long, long, ErrorStats, long)}); squares and sums are in double.
 *
 * <p>{@link #snrDb()} is {@code 10 * log10(sum x^2 / sum (x - y)^2)}: {@link Double#POSITIVE_INFINITY} when the
 * error is exactly zero (including when nothing was added), {@link Double#NEGATIVE_INFINITY} when the signal
 * is zero but the error is not. {@link #rmse()} is 0 when nothing was added; {@link #maxAbsErrorIndex()} is
 * -1 then. Not thread-safe: give each thread its own and {@link #merge} them.
 */
public final class ErrorStats {
    /** Elements per vector block: a block is rescanned only when its largest error may be the new maximum. */
    private static final long BLOCK = 1024;

    private long count;
    private double signalSq;
    private double errorSq;
    private double maxAbs = -1;
    private long maxIndex = -1;

    /**
     * Adds {@code count} elements: float32 reference values and their dequantized approximations, whose flat
     * indexes start at {@code firstIndex}.
     */
    public void add(MemorySegment referenceF32, MemorySegment approxF32, long count, long firstIndex) {
        long need = Math.multiplyExact(count, 4L);
        if (count < 0 || referenceF32.byteSize() < need || approxF32.byteSize() < need) {
            throw new IllegalArgumentException(count + " float32 do not fit in the segments");
        }
        if (Kernels.useVector(referenceF32, approxF32)) {
            addVector(referenceF32, approxF32, count, firstIndex);
            return;
        }
        double sig = 0;
        double err = 0;
        double max = maxAbs;
        long at = maxIndex;
        for (long i = 0; i < count; i++) {
            float x = referenceF32.get(F32, 4 * i);
            double e = Math.abs(x - approxF32.get(F32, 4 * i));
            sig += (double) x * x;
            err += e * e;
            if (e > max || (e == max && firstIndex + i < at)) {
                max = e;
                at = firstIndex + i;
            }
        }
        this.count += count;
        signalSq += sig;
        errorSq += err;
        maxAbs = max;
        maxIndex = at;
    }

    /** Blocks summed by the vector kernel; a block that may hold the largest error is scanned again for its index. */
    private void addVector(MemorySegment x, MemorySegment y, long count, long firstIndex) {
        double[] sums = new double[2];
        for (long b = 0; b < count; b += BLOCK) {
            long end = Math.min(count, b + BLOCK);
            double m = VectorKernels.errorBlock(x, y, b, end, sums);
            if (m > maxAbs || (m == maxAbs && firstIndex + b < maxIndex)) {
                for (long i = b; i < end; i++) {
                    double e = Math.abs(x.get(F32, 4 * i) - y.get(F32, 4 * i));
                    if (e > maxAbs || (e == maxAbs && firstIndex + i < maxIndex)) {
                        maxAbs = e;
                        maxIndex = firstIndex + i;
                    }
                }
            }
        }
        this.count += count;
        signalSq += sums[0];
        errorSq += sums[1];
    }

    /** Adds one element. */
    public void add(float reference, float approx, long index) {
        double e = Math.abs(reference - approx);
        count++;
        signalSq += (double) reference * reference;
        errorSq += e * e;
        if (e > maxAbs || (e == maxAbs && index < maxIndex)) {
            maxAbs = e;
            maxIndex = index;
        }
    }

    /** Adds {@code other}'s elements to this one; on equal largest errors the smaller index is kept. */
    public ErrorStats merge(ErrorStats other) {
        add(other.count, other.signalSq, other.errorSq, other.maxAbs, other.maxIndex);
        return this;
    }

    /** Adds a part summed elsewhere ({@link GroupErrors}): its largest error {@code max} (-1 for none) at {@code index}. */
    void add(long count, double signalSq, double errorSq, double max, long index) {
        this.count += count;
        this.signalSq += signalSq;
        this.errorSq += errorSq;
        if (max > maxAbs || (max == maxAbs && index >= 0 && index < maxIndex)) {
            maxAbs = max;
            maxIndex = index;
        }
    }

    public long count() {
        return count;
    }

    public double signalSumSquares() {
        return signalSq;
    }

    public double errorSumSquares() {
        return errorSq;
    }

    /** The largest |x - y|, 0 when nothing was added. */
    public double maxAbsError() {
        return Math.max(0, maxAbs);
    }

    /** Flat index of the first element with the largest error; -1 when nothing was added. */
    public long maxAbsErrorIndex() {
        return maxIndex;
    }

    public double rmse() {
        return count == 0 ? 0 : Math.sqrt(errorSq / count);
    }

    /** Signal-to-noise ratio in dB; see the class comment for the infinite cases. */
    public double snrDb() {
        if (errorSq == 0) {
            return Double.POSITIVE_INFINITY;
        }
        return 10 * Math.log10(signalSq / errorSq);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "n=%d snr=%.2f dB rmse=%.6g max|err|=%.6g at %d", count, snrDb(), rmse(),
                maxAbsError(), maxIndex);
    }
}
