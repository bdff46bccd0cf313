package dev.arica.formats.testing;

import static dev.arica.formats.TestSupport.f32;
import static dev.arica.formats.TestSupport.randomBytes;
import static dev.arica.formats.TestSupport.randomFloats;
import static dev.arica.formats.TestSupport.shape;

import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.TestSupport.St;
import dev.arica.formats.testing.TorchSave.StorageType;
import java.util.Arrays;
import java.util.Map;

/** One state dict written twice: as torch.save writes it ({@link TorchSave}) and as a safetensors file, its twin. */
public final class TorchTwin {

    private static final Map<DType, StorageType> STORAGES = Map.of(DType.F64, StorageType.DOUBLE, DType.F32,
            StorageType.FLOAT, DType.F16, StorageType.HALF, DType.BF16, StorageType.BFLOAT16, DType.I64, StorageType.LONG,
            DType.I32, StorageType.INT, DType.I16, StorageType.SHORT, DType.I8, StorageType.CHAR, DType.U8,
            StorageType.BYTE, DType.BOOL, StorageType.BOOL);

    public final TorchSave torch = new TorchSave();
    public final St safetensors = new St();

    /** A tensor with a storage of its own. */
    public TorchTwin tensor(String name, DType dtype, long[] shape, byte[] bytes) {
        torch.tensor(name, STORAGES.get(dtype), bytes, shape);
        safetensors.tensor(name, dtype, shape, bytes);
        return this;
    }

    /** Two tensors viewing one storage: {@code a} from element 0, {@code b} from element {@code bOffset}. */
    public TorchTwin shared(String a, long[] aShape, String b, long bOffset, long[] bShape, DType dtype, byte[] storage) {
        TorchSave.Storage s = torch.storage(STORAGES.get(dtype), storage);
        torch.tensor(a, s, 0, aShape).tensor(b, s, bOffset, bShape);
        int aBytes = (int) new TensorInfo(a, dtype, aShape).byteSize();
        int bStart = (int) dtype.bytesFor(bOffset);
        int bBytes = (int) new TensorInfo(b, dtype, bShape).byteSize();
        safetensors.tensor(a, dtype, aShape, Arrays.copyOfRange(storage, 0, aBytes));
        safetensors.tensor(b, dtype, bShape, Arrays.copyOfRange(storage, bStart, bStart + bBytes));
        return this;
    }

    /**
     * f32, f16, bf16, i64, i8 and bool tensors: a matrix, two views of one storage at different offsets (the
     * second leaving a gap after the first), a 4-d tensor, a scalar and an empty tensor. Seeded, so always the same.
     */
    public static TorchTwin sample() {
        return new TorchTwin()
                .tensor("model.embed_tokens.weight", DType.F32, shape(4, 3), randomFloats(1, 12))
                .shared("model.layers.0.self_attn.q_proj.weight", shape(2, 3), "model.layers.0.self_attn.q_proj.bias", 7,
                        shape(4), DType.F32, randomFloats(2, 11))
                .tensor("model.layers.0.input_layernorm.weight", DType.F16, shape(5), randomBytes(3, 10))
                .tensor("lm_head.weight", DType.BF16, shape(3, 2), randomBytes(4, 12))
                .tensor("position_ids", DType.I64, shape(1, 4), randomBytes(5, 32))
                .tensor("conv.weight", DType.F32, shape(2, 3, 2, 2), randomFloats(6, 24))
                .tensor("quant.codes", DType.I8, shape(6), randomBytes(7, 6))
                .tensor("mask", DType.BOOL, shape(3), new byte[] {1, 0, 1})
                .tensor("logit_scale", DType.F32, shape(), f32(2.5f))
                .tensor("empty", DType.F32, shape(0, 3), new byte[0]);
    }

}
