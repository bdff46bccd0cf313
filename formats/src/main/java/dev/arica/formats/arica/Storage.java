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

    /** Elements quantized along the last axis. */
    record Quantized(QuantLayout layout) implements Storage {
        @Override
        public String id() {
            return layout.scheme().id();
        }

        @Override
        public long rawBytes(long[] shape) {
            long cols = shape.length == 0 ? 1 : shape[shape.length - 1];
            long rows = cols == 0 ? 0 : TensorInfo.elements(shape) / cols;
            return layout.bytes(rows, cols);
        }
    }

    /** The name in the index: a dtype name or a scheme id. */
    String id();

    /** Bytes of the stored representation of a tensor of this shape, before compression. */
    long rawBytes(long[] shape);

    static Optional<Storage> parse(String id, int groupSize, boolean asymmetric) {
        Optional<Scheme> s = Scheme.parse(id);
        if (s.isPresent()) {
            return Optional.of(new Quantized(new QuantLayout(s.get(), groupSize, asymmetric)));
        }
        return DType.fromSafetensorsName(id).map(Plain::new);
    }
}
