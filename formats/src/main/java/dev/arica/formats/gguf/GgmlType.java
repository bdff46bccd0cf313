package dev.arica.formats.gguf;

import dev.arica.formats.DType;
import dev.arica.formats.quant.BlockDequantizer;
import dev.arica.formats.quant.GgmlRow;
import dev.arica.formats.quant.Q4_0Row;
import dev.arica.formats.quant.Q4_1Block;
import dev.arica.formats.quant.Q4_KBlock;
import dev.arica.formats.quant.Q5_0Block;
import dev.arica.formats.quant.Q5_1Block;
import dev.arica.formats.quant.Q5_KBlock;
import dev.arica.formats.quant.Q6_KBlock;
import dev.arica.formats.quant.Q8_0Row;
import dev.arica.formats.quant.Q8_KBlock;
import dev.arica.formats.quant.Scheme;
import java.util.Optional;

/**
 * GGML's tensor types as GGUF numbers them (ggml.h's ggml_type; sizes from ggml-common.h's block structs, as
 * gguf-py's GGML_QUANT_SIZES lists them), each with the values in a block and the bytes a block takes, and what arica
 * does with it: a plain float {@link #dtype()}, arica's own stored {@link #scheme()}, or a {@link #dequantizer()}.
 * Types with none of the three are known (their sizes check a file) but not read. Ids 4, 5 and 31-33, 36-38 were
 * removed from GGML and are not types.
 */
public enum GgmlType {
    F32(0, 1, 4, DType.F32, null, null),
    F16(1, 1, 2, DType.F16, null, null),
    Q4_0(2, GgmlRow.GROUP, Q4_0Row.BLOCK, null, Scheme.Q4_0, Q4_0Row::dequantize),
    Q4_1(3, Q4_1Block.VALUES, Q4_1Block.BYTES, null, null, Q4_1Block::dequantize),
    Q5_0(6, Q5_0Block.VALUES, Q5_0Block.BYTES, null, null, Q5_0Block::dequantize),
    Q5_1(7, Q5_1Block.VALUES, Q5_1Block.BYTES, null, null, Q5_1Block::dequantize),
    Q8_0(8, GgmlRow.GROUP, Q8_0Row.BLOCK, null, Scheme.Q8_0, Q8_0Row::dequantize),
    /** block_q8_1: fp16 d and s, 32 int8 (ggml's size; gguf-py lists 40). Never stored in files. */
    Q8_1(9, 32, 36),
    Q2_K(10, 256, 84),
    Q3_K(11, 256, 110),
    Q4_K(12, Q4_KBlock.VALUES, Q4_KBlock.BYTES, null, null, Q4_KBlock::dequantize),
    Q5_K(13, Q5_KBlock.VALUES, Q5_KBlock.BYTES, null, null, Q5_KBlock::dequantize),
    Q6_K(14, Q6_KBlock.VALUES, Q6_KBlock.BYTES, null, null, Q6_KBlock::dequantize),
    Q8_K(15, Q8_KBlock.VALUES, Q8_KBlock.BYTES, null, null, Q8_KBlock::dequantize),
    IQ2_XXS(16, 256, 66),
    IQ2_XS(17, 256, 74),
    IQ3_XXS(18, 256, 98),
    IQ1_S(19, 256, 50),
    IQ4_NL(20, 32, 18),
    IQ3_S(21, 256, 110),
    IQ2_S(22, 256, 82),
    IQ4_XS(23, 256, 136),
    I8(24, 1, 1),
    I16(25, 1, 2),
    I32(26, 1, 4),
    I64(27, 1, 8),
    F64(28, 1, 8),
    IQ1_M(29, 256, 56),
    BF16(30, 1, 2, DType.BF16, null, null),
    TQ1_0(34, 256, 54),
    TQ2_0(35, 256, 66),
    MXFP4(39, 32, 17);

    private final int id;
    private final int blockValues;
    private final int blockBytes;
    private final DType dtype;
    private final Scheme scheme;
    private final BlockDequantizer dequantizer;

    GgmlType(int id, int blockValues, int blockBytes) {
        this(id, blockValues, blockBytes, null, null, null);
    }

    GgmlType(int id, int blockValues, int blockBytes, DType dtype, Scheme scheme, BlockDequantizer dequantizer) {
        this.id = id;
        this.blockValues = blockValues;
        this.blockBytes = blockBytes;
        this.dtype = dtype;
        this.scheme = scheme;
        this.dequantizer = dequantizer;
    }

    /** The number in a GGUF tensor info. */
    public int id() {
        return id;
    }

    /** Values in one block (1 for the plain types). */
    public int blockValues() {
        return blockValues;
    }

    /** Bytes of one block. */
    public int blockBytes() {
        return blockBytes;
    }

    /** Whether a row of {@code cols} values is whole blocks, as GGML requires of every tensor's first dimension. */
    public boolean fitsRow(long cols) {
        return cols % blockValues == 0;
    }

    /** Bytes of {@code elements} values (whole blocks); throws ArithmeticException on overflow. */
    public long bytes(long elements) {
        return Math.multiplyExact(elements / blockValues, (long) blockBytes);
    }

    /** The plain element type of F32, F16 and BF16, read as they are. */
    public Optional<DType> dtype() {
        return Optional.ofNullable(dtype);
    }

    /** The scheme of arica's whose stored rows are exactly these blocks (Q8_0, Q4_0): kept, never requantized. */
    public Optional<Scheme> scheme() {
        return Optional.ofNullable(scheme);
    }

    /** How a block becomes floats, for the quantized types arica reads. */
    public Optional<BlockDequantizer> dequantizer() {
        return Optional.ofNullable(dequantizer);
    }

    /** Whether arica reads tensors of this type (as floats, stored blocks or dequantized). */
    public boolean readable() {
        return dtype != null || dequantizer != null;
    }

    /** The type numbered {@code id}, empty for a number GGML does not (or no longer) use. */
    public static Optional<GgmlType> of(long id) {
        for (GgmlType t : values()) {
            if (t.id == id) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** The scheme's GGML type: Q8_0 for q8_0, Q4_0 for q4_0; empty for arica's int8/int4, which GGML has no type for. */
    public static Optional<GgmlType> of(Scheme scheme) {
        for (GgmlType t : values()) {
            if (t.scheme == scheme) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
