package dev.arica.quantize;

import static dev.arica.quantize.Kernels.F32;

import java.lang.foreign.MemorySegment;

/**
 * The error of groups as a fused kernel quantizes them ({@link VectorKernels#ggmlRowsMeasured}, {@link VectorKernels#intRowsMeasured}): the
 * figures {@link ErrorStats#add(MemorySegment, MemorySegment, long, long)} gives over the dequantized rows, with
 * the sums in another order. One per call, on one thread.
 *
 * <p>The vector kernels add x^2 and e^2 into float32 lanes ({@link #signalLanes}, {@link #errorLanes}), which
 * {@link #flushLanes} moves into the double sums at least every {@link #FLUSH_GROUPS} groups, so no lane sums more
 * than a few hundred terms in float32. They store each group's errors in {@link #errors}, which {@link #scanMax}
 * scans only when one of them exceeds the largest so far; groups the vector code leaves to the scalar code are dequantized
 * into {@link #values} and added by {@link #add}.
 */
final class GroupErrors {
    /** Groups between two flushes of the float32 lanes. */
    static final int FLUSH_GROUPS = 64;

    /** What a measuring vector kernel did with a group: left it to the scalar code, */
    static final int SCALAR = 0;
    /** quantized it and added its sums to the lanes, */
    static final int DONE = 1;
    /** or that, with an error above the largest so far (its errors are then scanned for the index). */
    static final int NEW_MAX = 2;

    final float[] signalLanes;
    final float[] errorLanes;
    /** The last group's errors |x - y|, written by the vector kernel. */
    final float[] errors;
    /** One group dequantized by the scalar code, and the same floats as a segment for its dequantizers. */
    final float[] values;
    final MemorySegment valuesSegment;
    /** Codes of a group, scratch for the scalar dequantizers that decode nibbles first. */
    final int[] codes;

    private long count;
    private double signal;
    private double error;
    private float max = -1f;
    private long maxIndex = -1;

    GroupErrors(int lanes, int groupSize) {
        signalLanes = new float[lanes];
        errorLanes = new float[lanes];
        errors = new float[groupSize];
        values = new float[groupSize];
        valuesSegment = MemorySegment.ofArray(values);
        codes = new int[groupSize];
    }

    /** The largest error so far (-1 before any): a group with a larger one must be scanned for its index. */
    float max() {
        return max;
    }

    /** Counts {@code n} elements whose sums the vector kernel has added to the lanes. */
    void counted(int n) {
        count += n;
    }

    /** After group {@code g} of a row: the lanes are moved into the double sums every {@link #FLUSH_GROUPS} groups. */
    void endGroup(long g) {
        if (g % FLUSH_GROUPS == FLUSH_GROUPS - 1) {
            flushLanes();
        }
    }

    /** The first of the {@code n} errors in {@link #errors} larger than the largest so far; the first is at {@code index}. */
    void scanMax(int n, long index) {
        for (int j = 0; j < n; j++) {
            if (errors[j] > max) {
                max = errors[j];
                maxIndex = index + j;
            }
        }
    }

    /** A group the scalar code quantized: {@code n} elements at byte {@code s} of {@code src}, {@link #values} its values. */
    void add(MemorySegment src, long s, int n, long index) {
        for (int j = 0; j < n; j++) {
            float x = src.get(F32, s + 4L * j);
            float e = Math.abs(x - values[j]);
            signal += (double) x * x;
            error += (double) e * e;
            if (e > max) {
                max = e;
                maxIndex = index + j;
            }
        }
        count += n;
    }

    /** Moves the lanes' sums into the double sums. */
    void flushLanes() {
        for (int i = 0; i < signalLanes.length; i++) {
            signal += signalLanes[i];
            error += errorLanes[i];
            signalLanes[i] = 0f;
            errorLanes[i] = 0f;
        }
    }

    /** Adds everything to {@code stats}. */
    void into(ErrorStats stats) {
        flushLanes();
        stats.add(count, signal, error, max, maxIndex);
    }
}
