package dev.arica.formats.arica;

import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import java.util.Optional;

/** How a tensor's bytes are stored in an .arica file: plain elements of a dtype, or a quantization layout. */
public sealed interface Storage {

    /** Elements stored as they are. */
    record Plain(DType dtype) implements Storage {
        @Override
        public String id() {
            return dtype.safetensorsName();
        }

        @Override
        public long rawBytes(long[] shape) {
            return dtype.bytesFor(TensorInfo.elements(shape));
        }
    }

    /**
     * Elements quantized along the last axis; or, {@code transposed}, a 2-D [in, out] weight (GPT-2's Conv1D) stored
     * as its transpose [out, in], so that every projection's groups run along its input features; or, {@code permuted},
     * a 2-D [out, in] weight whose stored columns are its input features in another order, given by the
     * {@link ColumnOrder} that follows the rows (a GPTQ layer quantized in activation order: each group's features
     * made contiguous).
     */
    record Quantized(QuantLayout layout, boolean transposed, boolean permuted) implements Storage {
        public Quantized {
            if (transposed && permuted) {
                throw new IllegalArgumentException("a tensor is stored transposed or permuted, not both");
            }
        }

        public Quantized(QuantLayout layout) {
            this(layout, false, false);
        }

        public Quantized(QuantLayout layout, boolean transposed) {
            this(layout, transposed, false);
        }

        @Override
        public String id() {
            return layout.scheme().id();
        }

        @Override
        public long rawBytes(long[] shape) {
            long rows = rowsBytes(shape);
            return permuted ? Math.addExact(rows, ColumnOrder.bytes(shape[1])) : rows;
        }

        /** Bytes of the stored rows: all of {@link #rawBytes} but a permuted tensor's column order. */
        public long rowsBytes(long[] shape) {
            long[] stored = storedShape(shape);
            long cols = stored.length == 0 ? 1 : stored[stored.length - 1];
            long rows = cols == 0 ? 0 : TensorInfo.elements(stored) / cols;
            return layout.bytes(rows, cols);
        }

        /** The shape of the stored rows: the logical shape, or its transpose. */
        public long[] storedShape(long[] shape) {
            return transposed ? new long[] {shape[1], shape[0]} : shape;
        }
    }

    /** The name in the index: a dtype name or a scheme id. */
    String id();

    /** Bytes of the stored representation of a tensor of this shape, before compression. */
    long rawBytes(long[] shape);

    static Optional<Storage> parse(String id, int groupSize, boolean asymmetric) {
        return parse(id, groupSize, asymmetric, false, false);
    }

    static Optional<Storage> parse(String id, int groupSize, boolean asymmetric, boolean transposed, boolean permuted) {
        Optional<Scheme> s = Scheme.parse(id);
        if (s.isPresent()) {
            return Optional.of(new Quantized(new QuantLayout(s.get(), groupSize, asymmetric), transposed, permuted));
        }
        if (transposed || permuted) {
            throw new IllegalArgumentException("only quantized tensors are stored " + (transposed ? "transposed" : "permuted"));
        }
        return DType.fromSafetensorsName(id).map(Plain::new);
    }
}
