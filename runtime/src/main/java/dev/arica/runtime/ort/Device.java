package dev.arica.runtime.ort;

/** Where a session runs: {@code AUTO} takes CUDA when it is usable here and the CPU otherwise. */
public enum Device {
    AUTO,
    CUDA,
    CPU
}
