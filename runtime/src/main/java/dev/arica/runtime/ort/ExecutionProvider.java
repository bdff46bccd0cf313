package dev.arica.runtime.ort;

/** The ONNX Runtime execution provider a session actually got. */
public enum ExecutionProvider {
    CPU,
    CUDA
}
