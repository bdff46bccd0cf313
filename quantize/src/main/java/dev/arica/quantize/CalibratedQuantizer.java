package dev.arica.quantize;

import dev.arica.formats.quant.IntRow;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.RowGeometry;
import java.lang.foreign.MemorySegment;

/**
 * A weight quantized by a calibrated {@link Method} into its layout's ordinary rows (q4_0 blocks stay GGML Q4_0
 * blocks; int4/int8 groups keep their layout), with the statistics of the weight's input: {@link Method#SEARCH}
 * chooses each group's scale (and zero point) for the least squared error weighted by the input channels' importance,
 * {@link Method#GPTQ} runs {@link Gptq} with V from the input's Hessian. Without statistics (a weight whose input was
 * not measured, such as an embedding table) the search weighs every element alike. Dequantization is the layout's.
 */
public final class CalibratedQuantizer implements Quantizer {
    private final Quantizer base;
    private final GroupFit fit;
    private final Method method;
    private final InputStatistics statistics;
    private final float[] factor;
    private final float[] scaleFactors;

    /**
     * @param statistics the weight's input statistics, or null (then GPTQ is not possible and the search is unweighted)
     */
    public CalibratedQuantizer(QuantLayout layout, Method method, InputStatistics statistics) {
        this(layout, method, statistics, null);
    }

    /**
     * @param scaleFactors each group's scale multiplied by its factor once the method has chosen the codes ([rows,
     *     groups], from {@link dev.arica.quantize.tune.ScaleTuner}), or null
     */
    public CalibratedQuantizer(QuantLayout layout, Method method, InputStatistics statistics, float[] scaleFactors) {
        if (!method.calibrated()) {
            throw new IllegalArgumentException(method.id + " is not a calibrated method");
        }
        if (method == Method.GPTQ && (statistics == null || !statistics.hasHessian())) {
            throw new IllegalArgumentException("GPTQ needs the Hessian of the weight's input");
        }
        this.base = Quantizer.of(layout);
        this.fit = new GroupFit(layout);
        this.method = method;
        this.statistics = statistics;
        this.factor = method == Method.GPTQ ? statistics.gptqFactor() : null;
        this.scaleFactors = scaleFactors;
    }

    @Override
    public QuantLayout layout() {
        return base.layout();
    }

    public Method method() {
        return method;
    }

    /** Whether the method used input statistics (else an unweighted search). */
    public boolean calibrated() {
        return statistics != null;
    }

    @Override
    public void quantizeRows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow) {
        Kernels.checkQuantizeArgs(this, src, dst, cols, fromRow, toRow);
        if (statistics != null && statistics.columns() != cols) {
            throw new IllegalArgumentException("rows of " + cols + " columns, statistics of an input of "
                    + statistics.columns());
        }
        if (method == Method.GPTQ) {
            Gptq.quantizeRows(fit, factor, statistics.importance(), true, src, dst, cols, fromRow, toRow);
        } else {
            searchRows(src, dst, cols, fromRow, toRow);
        }
        if (scaleFactors != null) {
            rescale(dst, cols, fromRow, toRow);
        }
    }

    /** Each group's fp16 scale times its tuned factor, the codes (and zero points) kept. */
    private void rescale(MemorySegment dst, long cols, long fromRow, long toRow) {
        RowGeometry geometry = layout().geometry(cols);
        long groups = geometry.groups();
        long rowBytes = geometry.rowBytes();
        if (scaleFactors.length < groups * toRow) {
            throw new IllegalArgumentException(scaleFactors.length + " scale factors for rows up to " + toRow + " of "
                    + groups + " groups");
        }
        for (long r = fromRow; r < toRow; r++) {
            long row = r * rowBytes;
            for (long q = 0; q < groups; q++) {
                float scale = Float.float16ToFloat(geometry.scale(dst, row, q)) * scaleFactors[(int) (r * groups + q)];
                short half = Float.floatToFloat16(scale);
                if (Float.isInfinite(Float.float16ToFloat(half))) {
                    throw new ArithmeticException("a tuned scale of row " + r + " overflows float16: " + scale);
                }
                geometry.putScale(dst, row, q, half);
            }
        }
    }

    private void searchRows(MemorySegment src, MemorySegment dst, long cols, long fromRow, long toRow) {
        int k = Math.toIntExact(cols);
        int g = fit.group;
        int groups = (k + g - 1) / g;
        float[] w = new float[k];
        int[] codes = new int[groups * g];
        float[] importance = statistics == null ? null : statistics.importance();
        IntRow geometry = fit.geometry(cols);
        long rowBytes = fit.rowBytes(cols);
        for (long r = fromRow; r < toRow; r++) {
            Gptq.load(src, r, 1, k, w);
            long row = r * rowBytes;
            for (int q = 0; q < groups; q++) {
                int j0 = q * g;
                int n = Math.min(g, k - j0);
                int p = fit.search(w, j0, n, importance, j0, r, j0, cols);
                for (int j = 0; j < g; j++) {
                    codes[j0 + j] = fit.code(j < n ? w[j0 + j] : 0f, p);
                }
                fit.put(dst, row, geometry, q, p, codes, j0);
            }
        }
    }

    @Override
    public void dequantizeRows(MemorySegment stored, MemorySegment dst, long cols, long fromRow, long toRow) {
        base.dequantizeRows(stored, dst, cols, fromRow, toRow);
    }
}
