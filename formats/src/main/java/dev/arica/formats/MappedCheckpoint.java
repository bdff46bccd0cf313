package dev.arica.formats;

import dev.arica.formats.io.FileRange;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * A checkpoint whose tensors are views of one file mapped into an arena of its own: what the single-file readers
 * (safetensors, PyTorch, llama2.c) answer alike, from their {@link TensorIndex}; closing unmaps the file.
 */
public abstract class MappedCheckpoint implements Checkpoint {

    private final Arena arena;
    private final TensorIndex index;

    /** Takes {@code arena}, which maps {@code index}'s file, to close with this checkpoint. */
    protected MappedCheckpoint(Arena arena, TensorIndex index) {
        this.arena = arena;
        this.index = index;
    }

    protected final TensorIndex index() {
        return index;
    }

    @Override
    public final Path path() {
        return index.file();
    }

    @Override
    public final List<TensorInfo> tensors() {
        return index.infos();
    }

    @Override
    public final Tensor tensor(String name) {
        return index.tensor(name);
    }

    @Override
    public final Optional<FileRange> location(String name) {
        return index.location(name);
    }

    @Override
    public final List<Path> dataFiles() {
        return List.of(index.file());
    }

    @Override
    public final void close() {
        arena.close();
    }
}
