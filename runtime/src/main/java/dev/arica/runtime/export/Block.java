package dev.arica.runtime.export;

import dev.arica.formats.model.ModelDescription;

/**
 * One decoder layer's wiring: which norms, in which order, around attention and MLP, and how the residual stream
 * runs through them. The graph hands a block the residual {@code x} and its first norm {@code h}, and the block
 * ends with the residual add followed by the next layer's first norm (or the final norm), named {@code nextName}:
 * ONNX Runtime fuses that pair.
 */
interface Block {

    /** {the new residual stream, its norm by {@code next}}. */
    String[] layer(DecoderGraph g, int i, String x, String h, String nextName, DecoderGraph.Norm next);

    /** The block of a described model's family. */
    static Block of(ModelDescription m) {
        return switch (m.family().id()) {
            case "gemma2" -> Gemma2Block.INSTANCE;
            case "falcon" -> m.decoder().parallel() ? ParallelBlock.INSTANCE : PreNormBlock.INSTANCE;
            default -> PreNormBlock.INSTANCE;
        };
    }
}
