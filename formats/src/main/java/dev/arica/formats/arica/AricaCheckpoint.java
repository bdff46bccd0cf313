package dev.arica.formats.arica;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.QuantizedCheckpoint;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.quant.QuantLayout;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An .arica file seen as a {@link Checkpoint}, for the consumers that run its tensors as they are stored
 * (ONNX export): plain tensors are handed out in their stored dtype (decompressed when compressed), quantized
 * ones are listed with their logical dtype and shape but read through {@link #quantized} and {@link #stored},
 * never as floats: {@link #tensor} refuses them rather than silently dequantizing.
 */
public final class AricaCheckpoint implements QuantizedCheckpoint {
    private final AricaFile file;
    private final List<TensorInfo> tensors;

    private AricaCheckpoint(AricaFile file) {
        this.file = file;
        List<TensorInfo> t = new ArrayList<>();
        for (AricaEntry e : file.entries()) {
            t.add(e.storage() instanceof Storage.Plain p ? new TensorInfo(e.name(), p.dtype(), e.shape()) : e.info());
        }
        this.tensors = List.copyOf(t);
    }

    public static AricaCheckpoint open(Path path) throws IOException {
        return new AricaCheckpoint(AricaFile.open(path));
    }

    public AricaFile file() {
        return file;
    }

    @Override
    public String format() {
        return "arica";
    }

    @Override
    public Path path() {
        return file.path();
    }

    @Override
    public List<TensorInfo> tensors() {
        return tensors;
    }

    /** The layout of a quantized tensor, empty for a plain one. */
    public Optional<QuantLayout> quantized(String name) {
        return quantizedStorage(name).map(Storage.Quantized::layout);
    }

    /** How a quantized tensor is stored (layout, and whether as the transpose of its shape), empty for a plain one. */
    @Override
    public Optional<Storage.Quantized> quantizedStorage(String name) {
        return file.entry(name).map(AricaEntry::storage).flatMap(s -> s instanceof Storage.Quantized q
                ? Optional.of(q) : Optional.empty());
    }

    /**
     * The uncompressed stored bytes of a tensor, their checksum checked: the mapped view, or for a compressed one
     * its decompression into memory of {@code arena} (one tensor at a time keeps memory bounded by the largest).
     */
    @Override
    public java.lang.foreign.MemorySegment stored(String name, Arena arena) throws IOException {
        return file.checked(entry(name), arena);
    }

    /** The column order of a permuted tensor, read from its stored bytes {@code raw} ({@link #stored}); else empty. */
    @Override
    public Optional<ColumnOrder> columnOrder(String name, java.lang.foreign.MemorySegment raw) throws IOException {
        return file.columnOrder(entry(name), raw);
    }

    @Override
    public Tensor tensor(String name) throws IOException {
        AricaEntry e = entry(name);
        if (e.storage() instanceof Storage.Quantized q) {
            throw new FormatException(file.path(), name, "is stored quantized (" + q.layout().describe()
                    + "), not as " + e.dtype() + " elements; dequantize it (arica convert) to read it as floats");
        }
        // Auto arena: a decompressed copy lives as long as the caller holds the tensor.
        return Tensor.of(new TensorInfo(name, ((Storage.Plain) e.storage()).dtype(), e.shape()), file.checked(e, Arena.ofAuto()));
    }

    @Override
    public Optional<FileRange> location(String name) {
        return file.entry(name).filter(e -> !e.compressed() && !e.quantized()).map(file::location);
    }

    private AricaEntry entry(String name) throws FormatException {
        return file.entry(name).orElseThrow(() -> new FormatException(file.path(), name, "is not in this file"));
    }

    @Override
    public Map<String, String> metadata() {
        Map<String, String> m = new LinkedHashMap<>();
        file.index().path("user").properties().forEach(p -> m.put(p.getKey(), p.getValue().asText()));
        return m;
    }

    @Override
    public Optional<ObjectNode> config() {
        return file.config();
    }

    @Override
    public List<AuxFile> auxFiles() {
        return file.auxFiles();
    }

    @Override
    public List<Path> dataFiles() {
        return List.of(file.path());
    }

    @Override
    public void close() {
        file.close();
    }
}
