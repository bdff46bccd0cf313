package dev.arica.formats.model;

import java.util.Arrays;

/**
 * One tensor of a described model: its name in the checkpoint, its role, its layer (-1 outside the layers), the
 * shape the configuration implies and, for projections, how the weight is stored.
 */
public record TensorSpec(String name, Role role, int layer, long[] shape, Orientation orientation) {
    public TensorSpec {
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Output features of a projection (rows of y = x W^T), whatever the orientation. */
    public long outFeatures() {
        return orientation == Orientation.IN_OUT ? shape[1] : shape[0];
    }

    /** Input features of a projection. */
    public long inFeatures() {
        return orientation == Orientation.IN_OUT ? shape[0] : shape[1];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSpec t && t.name.equals(name) && t.role == role && t.layer == layer
                && Arrays.equals(t.shape, shape) && t.orientation == orientation;
    }

    @Override
    public int hashCode() {
        return name.hashCode();
    }

    @Override
    public String toString() {
        return name + " " + role + " " + Arrays.toString(shape);
    }
}
