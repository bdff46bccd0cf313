package dev.arica.formats.onnx;

import dev.arica.formats.DType;
import java.util.Optional;

/** ONNX tensor element types (TensorProto.DataType), with their sizes and arica's equivalent where there is one. */
public enum OnnxType {
    FLOAT(1, 32, DType.F32),
    UINT8(2, 8, DType.U8),
    INT8(3, 8, DType.I8),
    UINT16(4, 16, DType.U16),
    INT16(5, 16, DType.I16),
    INT32(6, 32, DType.I32),
    INT64(7, 64, DType.I64),
    /** Variable-length; never stored as raw bytes. */
    STRING(8, 0, null),
    BOOL(9, 8, DType.BOOL),
    FLOAT16(10, 16, DType.F16),
    DOUBLE(11, 64, DType.F64),
    UINT32(12, 32, DType.U32),
    UINT64(13, 64, DType.U64),
    COMPLEX64(14, 64, null),
    COMPLEX128(15, 128, null),
    BFLOAT16(16, 16, DType.BF16),
    FLOAT8E4M3FN(17, 8, DType.F8_E4M3),
    FLOAT8E4M3FNUZ(18, 8, null),
    FLOAT8E5M2(19, 8, DType.F8_E5M2),
    FLOAT8E5M2FNUZ(20, 8, null),
    UINT4(21, 4, null),
    INT4(22, 4, null),
    FLOAT4E2M1(23, 4, null);

    private final int code;
    private final int bits;
    private final DType dtype;

    OnnxType(int code, int bits, DType dtype) {
        this.code = code;
        this.bits = bits;
        this.dtype = dtype;
    }

    /** The TensorProto.DataType number. */
    public int code() {
        return code;
    }

    /** Bits per element; 0 for STRING. */
    public int bits() {
        return bits;
    }

    /** arica's type for this one, when arica has it. */
    public Optional<DType> dtype() {
        return Optional.ofNullable(dtype);
    }

    /** The name shown to users: arica's (safetensors) name when there is one, e.g. "F32", else the ONNX name. */
    public String displayName() {
        return dtype != null ? dtype.safetensorsName() : name();
    }

    /**
     * Bytes that {@code elements} elements take as raw data (4-bit types pack two per byte); throws
     * ArithmeticException on overflow and IllegalStateException for STRING.
     */
    public long bytesFor(long elements) {
        if (bits == 0) {
            throw new IllegalStateException(name() + " has no fixed size");
        }
        if (bits < 8) {
            return Math.addExact(Math.multiplyExact(elements, (long) bits), 7) / 8;
        }
        return Math.multiplyExact(elements, (long) bits / 8);
    }

    public static Optional<OnnxType> fromCode(int code) {
        for (OnnxType t : values()) {
            if (t.code == code) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** The ONNX type of an arica type; every DType has one. */
    public static OnnxType of(DType t) {
        for (OnnxType o : values()) {
            if (o.dtype == t) {
                return o;
            }
        }
        throw new IllegalArgumentException("no ONNX type for " + t);
    }
}
