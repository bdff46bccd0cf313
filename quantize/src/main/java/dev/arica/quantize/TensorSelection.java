package dev.arica.quantize;

import dev.arica.formats.TensorInfo;
import dev.arica.formats.model.Orientation;
import dev.arica.formats.model.TensorSpec;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which tensors of a checkpoint get quantized. By default the 2-D weights inside the transformer layers
 * (attention and MLP projections); token and position embeddings and the output head only when asked;
 * norms, biases and other 1-D tensors never; any tensor matching a {@code keep} pattern stays float. A checkpoint
 * of a described family is judged by its tensor table's roles; others by their names.
 *
 * @param keep patterns (searched anywhere in the name) of tensors kept float
 * @param embeddings whether embedding tables are quantized
 * @param head whether the output projection (lm_head) is quantized
 */
public record TensorSelection(List<Pattern> keep, boolean embeddings, boolean head) {

    /** What a tensor is, as far as the choice goes. */
    public enum Role {
        /** A weight inside a numbered layer (model.layers.3..., transformer.h.3...). */
        LAYER,
        EMBEDDING,
        HEAD,
        OTHER
    }

    /**
     * The decision for one tensor with its reason, as the report shows it; {@code transposed}: a Conv1D [in, out]
     * weight quantized as its transpose, so that the groups run along its input features like every other's.
     */
    public record Choice(boolean quantize, String reason, boolean transposed) {
        public Choice(boolean quantize, String reason) {
            this(quantize, reason, false);
        }
    }

    private static final Pattern LAYER = Pattern.compile("(^|\\.)(layers|layer|h|blocks)\\.(\\d+)\\.");
    private static final Pattern EMBEDDING = Pattern.compile(
            "(^|\\.)(embed_tokens|embed_positions|wte|wpe|tok_embeddings|word_embeddings|position_embeddings"
                    + "|embeddings|embedding)(\\.|$)");
    private static final Pattern HEAD = Pattern.compile("(^|\\.)(lm_head|embed_out)\\.weight$|^output\\.weight$");

    public TensorSelection {
        keep = List.copyOf(keep);
    }

    /** The default: layer weights only, nothing kept by pattern. */
    public static TensorSelection defaults() {
        return new TensorSelection(List.of(), false, false);
    }

    public static Role role(String name) {
        if (HEAD.matcher(name).find()) {
            return Role.HEAD;
        }
        if (EMBEDDING.matcher(name).find()) {
            return Role.EMBEDDING;
        }
        if (LAYER.matcher(name).find()) {
            return Role.LAYER;
        }
        return Role.OTHER;
    }

    /** Where a tensor sits in the stack: its layer's number and its name within the layer ("self_attn.q_proj.weight"). */
    public record LayerPlace(int layer, String within) {}

    /** The layer {@code name} belongs to by the same names {@link #role(String)} knows; empty outside numbered layers. */
    public static Optional<LayerPlace> layerPlace(String name) {
        Matcher m = LAYER.matcher(name);
        if (!m.find()) {
            return Optional.empty();
        }
        try {
            return Optional.of(new LayerPlace(Integer.parseInt(m.group(3)), name.substring(m.end())));
        } catch (NumberFormatException e) {
            // More digits than an int holds: a name, not a layer number arica could index.
            return Optional.empty();
        }
    }

    /** The role of a tensor the family's description lists, as far as the choice goes. */
    public static Role role(TensorSpec spec) {
        return switch (spec.role().kind) {
            case PROJECTION -> Role.LAYER;
            case EMBEDDING -> Role.EMBEDDING;
            case HEAD -> Role.HEAD;
            case NORM, BIAS, VECTOR -> Role.OTHER;
        };
    }

    /** The choice for {@code t}, by name. */
    public Choice choose(TensorInfo t) {
        return choose(t, Optional.empty());
    }

    /** The choice for {@code t}, by its description's role when the family lists it, else by name. */
    public Choice choose(TensorInfo t, Optional<TensorSpec> spec) {
        if (!t.dtype().isFloat()) {
            return new Choice(false, "not floating point");
        }
        if (t.shape().length != 2) {
            return new Choice(false, t.shape().length == 1 ? "1-D" : t.shape().length + "-D");
        }
        if (t.elements() == 0) {
            return new Choice(false, "empty");
        }
        for (Pattern p : keep) {
            if (p.matcher(t.name()).find()) {
                return new Choice(false, "--keep " + p.pattern());
            }
        }
        Choice c = switch (spec.map(TensorSelection::role).orElseGet(() -> role(t.name()))) {
            case HEAD -> head ? new Choice(true, "output head") : new Choice(false, "output head (--quantize-head)");
            case EMBEDDING -> embeddings ? new Choice(true, "embedding")
                    : new Choice(false, "embedding (--quantize-embeddings)");
            case LAYER -> new Choice(true, "layer weight");
            case OTHER -> new Choice(false, "not a layer weight");
        };
        // A Conv1D row is one input feature's outputs: its transpose is what groups along the inputs.
        return c.quantize() && spec.isPresent() && spec.get().orientation() == Orientation.IN_OUT
                ? new Choice(true, c.reason() + " (Conv1D, stored transposed)", true) : c;
    }
}
