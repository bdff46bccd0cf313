package dev.arica.formats.model;

/** How a projection's weight is stored. */
public enum Orientation {
    /** {@code [out, in]}: torch.nn.Linear, y = x W^T (most families). */
    OUT_IN,
    /** {@code [in, out]}: GPT-2's Conv1D, y = x W. */
    IN_OUT
}
