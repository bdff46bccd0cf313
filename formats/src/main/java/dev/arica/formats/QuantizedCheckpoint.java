package dev.arica.formats;

import dev.arica.formats.arica.ColumnOrder;
import dev.arica.formats.arica.Storage;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * A checkpoint some of whose tensors are stored in one of arica's quantized layouts ({@link Storage.Quantized}): an
 * .arica file, or a GGUF file's Q8_0 and Q4_0 blocks. The consumers that run or keep stored weights (ONNX export,
 * quantize) take those bytes as they are rather than requantizing what {@link #tensor} makes of them.
 */
public interface QuantizedCheckpoint extends Checkpoint {

    /** How the named tensor is stored quantized; empty for a tensor stored as plain elements. */
    Optional<Storage.Quantized> quantizedStorage(String name);

    /**
     * The stored bytes of a quantized tensor, {@link Storage.Quantized#rawBytes} of them: a view of the mapping, or
     * memory of {@code arena} when the reader builds them (a decompression, rows put in another order), so that the
     * caller bounds memory to one tensor by closing the arena once it is written.
     */
    MemorySegment stored(String name, Arena arena) throws IOException;

    /** The column order of a permuted tensor, read from its stored bytes {@code raw}; empty for any other. */
    default Optional<ColumnOrder> columnOrder(String name, MemorySegment raw) throws IOException {
        return Optional.empty();
    }
}
