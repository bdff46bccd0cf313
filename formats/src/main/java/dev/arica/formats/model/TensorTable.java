package dev.arica.formats.model;

import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Every tensor a described model uses, in storage order, with its role, layer and shape: built by a {@link Family}
 * from its configuration, then checked against a checkpoint before any work.
 */
public final class TensorTable {
    private final List<TensorSpec> specs;
    private final Map<String, TensorSpec> byName = new LinkedHashMap<>();
    private final Map<String, TensorSpec> byRole = new LinkedHashMap<>();
    private final QkvLayout qkv;

    private TensorTable(List<TensorSpec> specs, QkvLayout qkv) {
        this.specs = List.copyOf(specs);
        this.qkv = qkv;
        for (TensorSpec t : specs) {
            if (byName.put(t.name(), t) != null || byRole.put(key(t.role(), t.layer()), t) != null) {
                throw new IllegalArgumentException("tensor table lists " + t.name() + " (" + t.role() + ", layer "
                        + t.layer() + ") twice");
            }
        }
    }

    public List<TensorSpec> specs() {
        return specs;
    }

    public Optional<TensorSpec> byName(String name) {
        return Optional.ofNullable(byName.get(name));
    }

    /** The tensor of {@code role} in layer {@code layer} (-1 for those outside the layers), if the model has one. */
    public Optional<TensorSpec> find(Role role, int layer) {
        return Optional.ofNullable(byRole.get(key(role, layer)));
    }

    public TensorSpec get(Role role, int layer) {
        TensorSpec t = byRole.get(key(role, layer));
        if (t == null) {
            throw new IllegalStateException("the model has no " + role + " tensor in layer " + layer);
        }
        return t;
    }

    public TensorSpec get(Role role) {
        return get(role, -1);
    }

    /** The output projection: the head, or the embedding table when tied. */
    public TensorSpec head() {
        return find(Role.HEAD, -1).orElseGet(() -> get(Role.EMBEDDING));
    }

    /** How a fused query/key/value projection's rows are ordered; empty when q, k and v are separate. */
    public Optional<QkvLayout> qkv() {
        return Optional.ofNullable(qkv);
    }

    /**
     * Checks that {@code stored} (a checkpoint's tensors by name) holds every tensor of the table with the shape the
     * configuration implies, in a floating-point type; the first that does not is named.
     */
    public void check(Path file, Map<String, TensorInfo> stored, String family) throws FormatException {
        for (TensorSpec want : specs) {
            TensorInfo t = stored.get(want.name());
            if (t == null) {
                throw new FormatException(file, want.name(), "is missing; a " + family + " model with this config.json "
                        + "needs it (" + want.role().name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ')
                        + (want.layer() >= 0 ? " of layer " + want.layer() : "") + ")");
            }
            if (!Arrays.equals(t.shape(), want.shape())) {
                throw new FormatException(file, want.name(), "has shape " + t.shapeString() + " but config.json implies "
                        + Arrays.toString(want.shape()));
            }
            if (!t.dtype().isFloat()) {
                throw new FormatException(file, want.name(), "is " + t.dtype() + ", not a floating-point type");
            }
        }
    }

    private static String key(Role role, int layer) {
        return role.name() + "/" + layer;
    }

    /** Tensors added in storage order. */
    public static final class Builder {
        private final List<TensorSpec> specs = new ArrayList<>();
        private QkvLayout qkv;

        public Builder add(String name, Role role, int layer, long... shape) {
            specs.add(new TensorSpec(name, role, layer, shape, Orientation.OUT_IN));
            return this;
        }

        /** A projection stored [in, out] (Conv1D). */
        public Builder addInOut(String name, Role role, int layer, long... shape) {
            specs.add(new TensorSpec(name, role, layer, shape, Orientation.IN_OUT));
            return this;
        }

        public Builder qkv(QkvLayout layout) {
            this.qkv = layout;
            return this;
        }

        public TensorTable build() {
            return new TensorTable(specs, qkv);
        }
    }
}
