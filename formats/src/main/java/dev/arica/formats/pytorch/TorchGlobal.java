package dev.arica.formats.pytorch;

import dev.arica.formats.DType;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The allow-list: the only globals a pickle may name, each with a meaning written here in Java. Nothing is ever
 * imported or called by name; any other global is refused. Storage types only type persistent ids.
 */
enum TorchGlobal {
    ORDERED_DICT("collections", "OrderedDict", null),
    REBUILD_TENSOR("torch._utils", "_rebuild_tensor", null),
    REBUILD_TENSOR_V2("torch._utils", "_rebuild_tensor_v2", null),
    REBUILD_PARAMETER("torch._utils", "_rebuild_parameter", null),
    SIZE("torch", "Size", null),
    DOUBLE_STORAGE("torch", "DoubleStorage", DType.F64),
    FLOAT_STORAGE("torch", "FloatStorage", DType.F32),
    HALF_STORAGE("torch", "HalfStorage", DType.F16),
    BFLOAT16_STORAGE("torch", "BFloat16Storage", DType.BF16),
    LONG_STORAGE("torch", "LongStorage", DType.I64),
    INT_STORAGE("torch", "IntStorage", DType.I32),
    SHORT_STORAGE("torch", "ShortStorage", DType.I16),
    CHAR_STORAGE("torch", "CharStorage", DType.I8),
    BYTE_STORAGE("torch", "ByteStorage", DType.U8),
    BOOL_STORAGE("torch", "BoolStorage", DType.BOOL);

    private static final String V2_ARGS = "(storage, storage_offset, size, stride, requires_grad, backward_hooks)";

    private final String module;
    private final String name;
    private final DType dtype;

    TorchGlobal(String module, String name, DType dtype) {
        this.module = module;
        this.name = name;
        this.dtype = dtype;
    }

    static Optional<TorchGlobal> find(String module, String name) {
        for (TorchGlobal g : values()) {
            if (g.module.equals(module) && g.name.equals(name)) {
                return Optional.of(g);
            }
        }
        return Optional.empty();
    }

    String qualifiedName() {
        return module + "." + name;
    }

    /** The element type of a storage type; null for the others. */
    DType dtype() {
        return dtype;
    }

    boolean isStorage() {
        return dtype != null;
    }

    /** What a REDUCE of this global with {@code args} builds, computed here, never by calling Python. */
    Object call(PyTuple args) {
        return switch (this) {
            case ORDERED_DICT -> {
                arity(args, 0, "()");
                yield new LinkedHashMap<Object, Object>();
            }
            case SIZE -> {
                arity(args, 1, "(sizes,)");
                longs(args.get(0), "sizes");
                yield args.get(0);
            }
            case REBUILD_TENSOR -> {
                arity(args, 4, "(storage, storage_offset, size, stride)");
                yield tensor(args);
            }
            case REBUILD_TENSOR_V2 -> {
                if (args.size() != 6 && args.size() != 7) {
                    arity(args, 6, V2_ARGS);
                }
                flag(args.get(4), "requires_grad");
                emptyDict(args.get(5), "backward_hooks");
                if (args.size() == 7 && args.get(6) != null) {
                    emptyDict(args.get(6), "tensor metadata");
                }
                yield tensor(args);
            }
            case REBUILD_PARAMETER -> {
                arity(args, 3, "(data, requires_grad, backward_hooks)");
                if (!(args.get(0) instanceof TensorRef t)) {
                    throw new PickleFault(qualifiedName() + "'s data is " + PickleReader.describe(args.get(0))
                            + ", not a tensor");
                }
                flag(args.get(1), "requires_grad");
                emptyDict(args.get(2), "backward_hooks");
                yield t;
            }
            default -> throw new PickleFault(qualifiedName() + " is a storage type, which only persistent ids name: "
                    + "nothing calls it");
        };
    }

    private void arity(PyTuple args, int n, String signature) {
        if (args.size() != n) {
            throw new PickleFault(qualifiedName() + " takes " + signature + ", given " + args.size() + " arguments");
        }
    }

    private TensorRef tensor(PyTuple args) {
        if (!(args.get(0) instanceof StorageRef storage)) {
            throw new PickleFault(qualifiedName() + "'s storage is " + PickleReader.describe(args.get(0))
                    + ", not a storage named by a persistent id");
        }
        long offset = nonNegative(args.get(1), "storage_offset");
        long[] size = longs(args.get(2), "size");
        long[] stride = longs(args.get(3), "stride");
        if (size.length != stride.length) {
            throw new PickleFault(qualifiedName() + " has " + size.length + " sizes but " + stride.length + " strides");
        }
        return new TensorRef(storage, offset, size, stride);
    }

    private void flag(Object v, String what) {
        if (!(v instanceof Boolean)) {
            throw new PickleFault(qualifiedName() + "'s " + what + " is " + PickleReader.describe(v) + ", not a bool");
        }
    }

    /** Hooks and metadata would change what the tensor is; state dicts have none, so any is refused. */
    private void emptyDict(Object v, String what) {
        if (!(v instanceof Map<?, ?> m) || !m.isEmpty()) {
            throw new PickleFault(qualifiedName() + "'s " + what + " is " + (v instanceof Map<?, ?> m ? "a dict of "
                    + m.size() + " entries" : PickleReader.describe(v)) + ": only an empty one is read");
        }
    }

    private long nonNegative(Object v, String what) {
        if (!(v instanceof Long n) || n < 0) {
            throw new PickleFault(qualifiedName() + "'s " + what + " is " + PickleReader.describe(v)
                    + ", not a non-negative int");
        }
        return n;
    }

    private long[] longs(Object v, String what) {
        if (!(v instanceof PyTuple t)) {
            throw new PickleFault(qualifiedName() + "'s " + what + " is " + PickleReader.describe(v) + ", not a tuple");
        }
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = nonNegative(t.get(i), what + "[" + i + "]");
        }
        return out;
    }
}
