package dev.arica.formats.pytorch;

/**
 * A tensor as {@code torch._utils._rebuild_tensor_v2} describes it: a view of {@code storage} starting at element
 * {@code offset}, with sizes and strides in elements. Checked against the storage only when its name is known.
 */
record TensorRef(StorageRef storage, long offset, long[] size, long[] stride) {}
