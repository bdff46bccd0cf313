package dev.arica.quantize;

import java.io.IOException;
import java.util.Optional;

/**
 * Statistics of the inputs of a model's linear layers, measured by running it on calibration text (the runtime
 * collects them; the quantizer only reads them). Tensors are asked for in the checkpoint's order; an implementation
 * may keep only the statistics of the layer asked for last, so that memory holds one layer's at a time.
 */
public interface Calibration {

    /** The statistics of the input of the linear layer whose weight is {@code tensor}, or empty when none were measured. */
    Optional<InputStatistics> inputs(String tensor) throws IOException;

    /** One line for the reports: what text, how many tokens. */
    String describe();
}
