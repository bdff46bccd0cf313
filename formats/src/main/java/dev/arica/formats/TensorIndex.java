package dev.arica.formats;

import dev.arica.formats.io.FileRange;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The tensors of one file by name, in storage order, with where each one's bytes lie in that file: the lookup that
 * the single-file readers share, so that a name and a location are found, and a missing name refused, one way.
 */
public final class TensorIndex {

    /** A tensor and the offset of its bytes in the file, or -1 when it has no file range. */
    private record Entry(Tensor tensor, long fileOffset) {}

    private final Path file;
    private final Map<String, Entry> byName;
    private final List<TensorInfo> infos;

    private TensorIndex(Path file, Map<String, Entry> byName) {
        this.file = file;
        this.byName = byName;
        this.infos = byName.values().stream().map(e -> e.tensor().info()).toList();
    }

    /** An index of {@code file}'s tensors, added in storage order. */
    public static Builder builder(Path file) {
        return new Builder(file);
    }

    /** Collects a file's tensors in storage order. */
    public static final class Builder {
        private final Path file;
        private final Map<String, Entry> byName = new LinkedHashMap<>();

        private Builder(Path file) {
            this.file = file;
        }

        /** A tensor whose bytes lie contiguously and unchanged at {@code fileOffset} of the file. */
        public Builder add(Tensor tensor, long fileOffset) {
            if (fileOffset < 0) {
                throw new IllegalArgumentException("negative offset of " + tensor.name() + " in " + file);
            }
            return put(tensor, fileOffset);
        }

        /** A tensor without a file range: the reader builds it from other bytes (a row permutation). */
        public Builder add(Tensor tensor) {
            return put(tensor, -1);
        }

        private Builder put(Tensor tensor, long fileOffset) {
            if (byName.putIfAbsent(tensor.name(), new Entry(tensor, fileOffset)) != null) {
                throw new IllegalArgumentException("tensor '" + tensor.name() + "' added twice to the index of "
                        + file);
            }
            return this;
        }

        public TensorIndex build() {
            return new TensorIndex(file, Collections.unmodifiableMap(new LinkedHashMap<>(byName)));
        }
    }

    /** The file the tensors are read from. */
    public Path file() {
        return file;
    }

    /** The tensors' descriptions in storage order. */
    public List<TensorInfo> infos() {
        return infos;
    }

    public Optional<TensorInfo> info(String name) {
        return Optional.ofNullable(byName.get(name)).map(e -> e.tensor().info());
    }

    /** The tensor named {@code name}; an unknown name is the caller's error. */
    public Tensor tensor(String name) {
        Entry e = byName.get(name);
        if (e == null) {
            throw noTensor(name, file);
        }
        return e.tensor();
    }

    /** Where the named tensor's bytes lie in the file; empty for an unknown name or a tensor without a file range. */
    public Optional<FileRange> location(String name) {
        Entry e = byName.get(name);
        return e == null || e.fileOffset() < 0 ? Optional.empty()
                : Optional.of(new FileRange(file, e.fileOffset(), e.tensor().info().byteSize()));
    }

    /** The error for a name that {@code where} (a file, or a directory of them) has no tensor of. */
    public static IllegalArgumentException noTensor(String name, Path where) {
        return new IllegalArgumentException("no tensor named '" + name + "' in " + where);
    }
}
