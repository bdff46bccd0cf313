package dev.arica.quantize;

import static dev.arica.quantize.Kernels.I16;

import dev.arica.formats.FloatCast;
import dev.arica.formats.arica.ColumnOrder;
import dev.arica.formats.gptq.GptqConfig;
import dev.arica.formats.gptq.GptqPlanes;
import dev.arica.formats.gptq.GptqWeight;
import dev.arica.formats.quant.IntRow;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * A GPTQ layer as .arica int4/int8 asymmetric rows holding the same values, its codes, fp16 scales and zero points
 * moved, never requantized: row n of the weight [out, in] takes GPTQ's codes of output n, and each arica group of A
 * input features the scale and zero point of the GPTQ group they belong to (A: the largest power of two from 16 to
 * 256 dividing GPTQ's group size, so that no arica group straddles two GPTQ groups).
 *
 * <p>With desc_act, g_idx assigns input features to groups out of order. When every group still has exactly its
 * group-size features (as AutoGPTQ's act-order makes them), the features are stored sorted by group (stable), which
 * makes each group contiguous: the tensor is stored {@code permuted} with that {@link ColumnOrder}, and a graph gathers
 * the activations in the same order before the product. Otherwise no layout holds the values exactly, and the plan
 * says so: the caller requantizes the exact dequantized weight instead.
 */
final class GptqRepacker {
    private GptqRepacker() {}

    /**
     * How a layer is stored.
     *
     * @param layout int4 or int8, asymmetric, in groups of A
     * @param order the stored order of the input features, null when they stay in order
     * @param exact whether the layer's codes are moved as they are (else its weight is requantized in {@code layout})
     * @param reason what the report says about the layer
     */
    record Plan(QuantLayout layout, ColumnOrder order, boolean exact, String reason) {}

    /** The plan for {@code planes}' layer. */
    static Plan plan(GptqPlanes planes, GptqConfig config) {
        GptqWeight w = planes.weight();
        int rows = config.groupRows(w.in());
        Scheme scheme = config.bits() == 4 ? Scheme.INT4 : Scheme.INT8;
        int group = aricaGroup(rows, w.groups(), w.in());
        String gptq = "GPTQ " + config.bits() + "-bit g" + rows;
        if (group == 0) {
            return new Plan(new QuantLayout(scheme, scheme.defaultGroup(), true), null, false, gptq
                    + " requantized: no group size from 16 to 256 divides " + rows);
        }
        QuantLayout layout = new QuantLayout(scheme, group, true);
        if (planes.inOrder(rows)) {
            return new Plan(layout, null, true, gptq + " codes as stored");
        }
        int[] count = new int[w.groups()];
        IntStream.range(0, w.in()).forEach(k -> count[planes.group(k)]++);
        for (int g = 0; g < count.length; g++) {
            if (count[g] != Math.min(rows, w.in() - g * rows)) {
                return new Plan(layout, null, false, gptq + " requantized: g_idx gives group " + g + " " + count[g]
                        + " input features, not " + Math.min(rows, w.in() - g * rows));
            }
        }
        Integer[] sorted = IntStream.range(0, w.in()).boxed().toArray(Integer[]::new);
        Arrays.sort(sorted, Comparator.comparingInt(planes::group));
        ColumnOrder order = ColumnOrder.of(Arrays.stream(sorted).mapToInt(Integer::intValue).toArray());
        return new Plan(layout, order, true, gptq + " codes as stored, desc_act: input features sorted by group");
    }

    /** The arica group size for GPTQ groups of {@code rows} input features, or 0 when none fits. */
    static int aricaGroup(int rows, int groups, int in) {
        if (groups == 1) {
            // One group over the whole row: any size holds it; the smallest power of two over the row, within bounds.
            return Math.clamp(Integer.highestOneBit(Math.max(1, in - 1)) << 1, Scheme.MIN_GROUP, Scheme.MAX_GROUP);
        }
        for (int a = Scheme.MAX_GROUP; a >= Scheme.MIN_GROUP; a /= 2) {
            if (rows % a == 0) {
                return a;
            }
        }
        return 0;
    }

    /** The logical input feature of stored column {@code j}. */
    private static int feature(Plan plan, int j) {
        return plan.order() == null ? j : plan.order().get(j);
    }

    /**
     * Rows {@code [from, to)} (output features) of an exact plan into {@code dst}, row {@code from} first, in the
     * stored layout of {@code plan.layout()}; padding codes (past the last feature) are the group's zero point.
     */
    static void repackRows(GptqPlanes planes, Plan plan, MemorySegment dst, int from, int to) {
        QuantLayout layout = plan.layout();
        int in = planes.weight().in();
        int a = layout.groupSize();
        IntRow geometry = new IntRow(layout, in);
        for (int n = from; n < to; n++) {
            long row = (n - from) * geometry.rowBytes();
            for (int k = 0; k < geometry.groups(); k++) {
                int g = planes.group(feature(plan, k * a));
                int zero = planes.zero(g, n);
                dst.set(I16, row + geometry.scaleAt(k), planes.scaleBits(g, n));
                geometry.putZeroPoint(dst, row, k, zero);
                long codes = row + geometry.codesAt(k);
                for (int j = 0; j < a; j += 2) {
                    // Padding columns past the row's end hold the zero point: they dequantize to 0.
                    int c0 = k * a + j < in ? planes.code(feature(plan, k * a + j), n) : zero;
                    int c1 = k * a + j + 1 < in ? planes.code(feature(plan, k * a + j + 1), n) : zero;
                    geometry.putPair(dst, codes, j, c0, c1);
                }
            }
        }
    }

    /** Rows {@code [from, to)} of the layer's weight as float32, its columns in the stored order of {@code plan}. */
    static void storedOrderRows(GptqPlanes planes, Plan plan, MemorySegment dst, int from, int to) {
        int in = planes.weight().in();
        long at = 0;
        for (int n = from; n < to; n++) {
            for (int j = 0; j < in; j++, at++) {
                dst.setAtIndex(FloatCast.F32_LE, at, planes.value(n, feature(plan, j)));
            }
        }
    }
}
