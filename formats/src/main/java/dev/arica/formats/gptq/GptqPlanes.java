package dev.arica.formats.gptq;

import dev.arica.formats.FloatCast;
import dev.arica.formats.FormatException;
import dev.arica.formats.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;

/**
 * The stored values of one GPTQ layer, read from the mapped tensors: the code of input row k for output n, the zero
 * point and fp16 scale of group g for output n, the group of each input row, and the float weight they give,
 * {@code W[n, k] = scales[g_idx[k], n] * (q[k, n] - zero[g_idx[k], n])} in float32 (as AutoGPTQ's reference
 * dequantizes; exact, since an fp16 scale times an integer below 2^8 needs at most 19 significant bits).
 *
 * <p>Packing (AutoGPTQ's QuantLinear.pack): word r of qweight's column n holds rows {@code r * 32 / bits + j} in bits
 * {@code j * bits ..}, lowest first; qzeros packs the zero points of a group the same way along the outputs. A v1
 * checkpoint stores each zero point minus one (read back as {@code (stored + 1) mod 2^bits}); v2 stores it as it is.
 */
public final class GptqPlanes {
    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort F16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final GptqWeight weight;
    private final int bits;
    private final int perWord;
    private final int mask;
    private final int zeroOffset;
    private final MemorySegment qweight;
    private final MemorySegment qzeros;
    private final MemorySegment scales;
    private final int[] groupOf;

    private GptqPlanes(GptqWeight weight, GptqConfig config, MemorySegment qweight, MemorySegment qzeros,
            MemorySegment scales, int[] groupOf) {
        this.weight = weight;
        this.bits = config.bits();
        this.perWord = config.perWord();
        this.mask = (1 << bits) - 1;
        this.zeroOffset = config.format() == GptqConfig.Format.V1 ? 1 : 0;
        this.qweight = qweight;
        this.qzeros = qzeros;
        this.scales = scales;
        this.groupOf = groupOf;
    }

    /**
     * The planes of {@code weight} from its mapped tensors (listed in {@link GptqWeight#stored} order); a g_idx entry
     * outside the layer's groups is refused, naming {@code gIdxFile} and the tensor.
     */
    static GptqPlanes of(GptqWeight weight, GptqConfig config, List<Tensor> tensors, Path gIdxFile)
            throws FormatException {
        MemorySegment g = single(tensors.get(3));
        int[] groupOf = new int[weight.in()];
        for (int k = 0; k < groupOf.length; k++) {
            int v = g.getAtIndex(I32, k);
            if (v < 0 || v >= weight.groups()) {
                throw new FormatException(gIdxFile, weight.gIdx(), "g_idx[" + k + "] is " + v + ", outside the layer's "
                        + weight.groups() + " groups");
            }
            groupOf[k] = v;
        }
        return new GptqPlanes(weight, config, single(tensors.get(0)), single(tensors.get(1)), single(tensors.get(2)),
                groupOf);
    }

    /** A tensor of a safetensors file: one part of its mapping. */
    private static MemorySegment single(Tensor t) {
        if (t.parts().size() != 1) {
            throw new IllegalArgumentException(t.name() + " is not one contiguous part of a safetensors file");
        }
        return t.parts().getFirst();
    }

    public GptqWeight weight() {
        return weight;
    }

    public int bits() {
        return bits;
    }

    /** The group of input row {@code k} (g_idx[k]). */
    public int group(int k) {
        return groupOf[k];
    }

    /** Whether every input row k is in group {@code k / groupRows}: the rows of a group are contiguous, in order. */
    public boolean inOrder(int groupRows) {
        for (int k = 0; k < groupOf.length; k++) {
            if (groupOf[k] != k / groupRows) {
                return false;
            }
        }
        return true;
    }

    /** The code (0 .. 2^bits - 1) of input row {@code k} for output {@code n}. */
    public int code(int k, int n) {
        int word = qweight.getAtIndex(I32, (long) (k / perWord) * weight.out() + n);
        return (word >>> (bits * (k % perWord))) & mask;
    }

    /** The zero point (0 .. 2^bits - 1) of group {@code g} for output {@code n}, v1's offset undone. */
    public int zero(int g, int n) {
        int word = qzeros.getAtIndex(I32, (long) g * (weight.out() / perWord) + n / perWord);
        return (((word >>> (bits * (n % perWord))) & mask) + zeroOffset) & mask;
    }

    /** The fp16 bits of the scale of group {@code g} for output {@code n}. */
    public short scaleBits(int g, int n) {
        return scales.getAtIndex(F16, (long) g * weight.out() + n);
    }

    /** W[n, k] in float32. */
    public float value(int n, int k) {
        int g = groupOf[k];
        return Float.float16ToFloat(scaleBits(g, n)) * (code(k, n) - zero(g, n));
    }

    /** Rows {@code [from, to)} of W [out, in] as little-endian float32 into {@code dst}, row after row. */
    public void dequantizeRows(MemorySegment dst, int from, int to) {
        long at = 0;
        for (int n = from; n < to; n++) {
            for (int k = 0; k < weight.in(); k++, at++) {
                dst.setAtIndex(FloatCast.F32_LE, at, value(n, k));
            }
        }
    }
}
