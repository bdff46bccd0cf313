package dev.arica.formats.pytorch;

import dev.arica.formats.DType;

/**
 * A storage named by a persistent id {@code ('storage', type, key, location, numel)}: {@code numel} elements of
 * the type's dtype, whose bytes the container holds under {@code key} (a zip's {@code data/<key>}).
 */
record StorageRef(String key, TorchGlobal type, long numel) {

    DType dtype() {
        return type.dtype();
    }

    /** Bytes the storage holds; throws ArithmeticException when that overflows a long. */
    long byteSize() {
        return dtype().bytesFor(numel);
    }
}
