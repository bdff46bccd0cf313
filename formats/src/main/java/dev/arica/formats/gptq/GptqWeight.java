package dev.arica.formats.gptq;

import dev.arica.formats.DType;
import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;

/**
 * One Linear layer of a GPTQ checkpoint: its four stored tensors ({@code <module>.qweight} int32 [in * bits / 32,
 * out], {@code .qzeros} int32 [groups, out * bits / 32], {@code .scales} float16 [groups, out], {@code .g_idx}
 * int32 [in]), their shapes checked against each other, and the float weight they stand for,
 * {@code <module>.weight} [out, in].
 *
 * @param module the layer's name, e.g. {@code transformer.h.0.mlp.dense_h_to_4h}
 * @param in input features (g_idx's length)
 * @param out output features (scales' columns)
 * @param groups rows of scales and qzeros
 * @param bits bits of a code
 */
public record GptqWeight(String module, int in, int out, int groups, int bits) {

    /** The suffixes of a layer's stored tensors, in the order they are checked. */
    static final String QWEIGHT = ".qweight", QZEROS = ".qzeros", SCALES = ".scales", G_IDX = ".g_idx";

    /** The name of the float weight: {@code <module>.weight}. */
    public String name() {
        return module + ".weight";
    }

    public String qweight() {
        return module + QWEIGHT;
    }

    public String qzeros() {
        return module + QZEROS;
    }

    public String scales() {
        return module + SCALES;
    }

    public String gIdx() {
        return module + G_IDX;
    }

    /** The four stored tensors' names. */
    public String[] stored() {
        return new String[] {qweight(), qzeros(), scales(), gIdx()};
    }

    /** Bytes of the four stored tensors. */
    public long storedBytes() {
        return (long) in * out * bits / 8 + (long) groups * out * bits / 8 + (long) groups * out * 2 + (long) in * 4;
    }

    /** The float weight as the checkpoint presents it: float32 (an fp16 scale times a small integer is exact in it). */
    public TensorInfo info() {
        return new TensorInfo(name(), DType.F32, new long[] {out, in});
    }

    /**
     * The layer whose qweight is {@code module + ".qweight"}, its tensors looked up in {@code stored} and checked;
     * {@code fileOf} names the file holding a tensor in messages.
     */
    static GptqWeight of(String module, Map<String, TensorInfo> stored, GptqConfig config, Function<String, Path> fileOf)
            throws FormatException {
        TensorInfo gIdx = require(module + G_IDX, module + QWEIGHT, stored, fileOf);
        TensorInfo qweight = stored.get(module + QWEIGHT);
        TensorInfo scales = require(module + SCALES, module + QWEIGHT, stored, fileOf);
        TensorInfo qzeros = require(module + QZEROS, module + QWEIGHT, stored, fileOf);
        if (stored.containsKey(module + ".weight")) {
            throw new FormatException(fileOf.apply(module + ".weight"), module + ".weight",
                    "is stored beside the GPTQ tensors of the same layer (" + module + QWEIGHT + ")");
        }
        check(gIdx, DType.I32, 1, fileOf);
        check(qweight, DType.I32, 2, fileOf);
        check(scales, DType.F16, 2, fileOf);
        check(qzeros, DType.I32, 2, fileOf);
        long in = gIdx.shape()[0];
        long out = scales.shape()[1];
        int perWord = config.perWord();
        if (in == 0 || in > Integer.MAX_VALUE || in % perWord != 0) {
            throw new FormatException(fileOf.apply(gIdx.name()), gIdx.name(), "has " + in + " input features, not a "
                    + "positive multiple of " + perWord + " (" + config.bits() + "-bit codes, " + perWord + " to an int32)");
        }
        if (out == 0 || out > Integer.MAX_VALUE || out % perWord != 0) {
            throw new FormatException(fileOf.apply(scales.name()), scales.name(), "has " + out + " output features, not "
                    + "a positive multiple of " + perWord + " (" + config.bits() + "-bit zero points, " + perWord
                    + " to an int32)");
        }
        long groups = config.groups((int) in);
        expect(qweight, new long[] {in / perWord, out}, "in * bits / 32, out", fileOf);
        expect(scales, new long[] {groups, out}, "groups, out", fileOf);
        expect(qzeros, new long[] {groups, out / perWord}, "groups, out * bits / 32", fileOf);
        return new GptqWeight(module, (int) in, (int) out, (int) groups, config.bits());
    }

    private static TensorInfo require(String name, String by, Map<String, TensorInfo> stored, Function<String, Path> fileOf)
            throws FormatException {
        TensorInfo t = stored.get(name);
        if (t == null) {
            throw new FormatException(fileOf.apply(by), by, "has no " + name + " beside it (a GPTQ layer has qweight, "
                    + "qzeros, scales and g_idx)");
        }
        return t;
    }

    private static void check(TensorInfo t, DType dtype, int rank, Function<String, Path> fileOf) throws FormatException {
        if (t.dtype() != dtype || t.rank() != rank) {
            throw new FormatException(fileOf.apply(t.name()), t.name(), "is " + t.dtype() + t.shapeString() + ", not a "
                    + rank + "-D " + dtype + " tensor as GPTQ stores it");
        }
    }

    private static void expect(TensorInfo t, long[] shape, String what, Function<String, Path> fileOf)
            throws FormatException {
        if (!Arrays.equals(t.shape(), shape)) {
            throw new FormatException(fileOf.apply(t.name()), t.name(), "has shape " + t.shapeString() + ", expected "
                    + Arrays.toString(shape) + " ([" + what + "] for the layer's g_idx and scales)");
        }
    }
}
