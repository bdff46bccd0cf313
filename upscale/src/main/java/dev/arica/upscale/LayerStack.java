package dev.arica.upscale;

import dev.arica.formats.FormatException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The numbered decoder layers of a checkpoint, found by tensor name ({@code model.layers.3.mlp.up_proj.weight},
 * {@code transformer.h.3.attn.c_attn.weight}): one stack, numbered 0..n-1 without gaps, n as config.json says.
 */
final class LayerStack {
    /** The first "layers.N." (or h, layer, blocks) in a name: the same names quantize treats as layers. */
    private static final Pattern LAYER = Pattern.compile("^((?:.*?\\.)?(?:layers|layer|h|blocks)\\.)(\\d+)\\.(.+)$");

    /** A layer tensor's name taken apart. */
    record Name(String prefix, String number, String rest) {
        String withLayer(int layer) {
            return prefix + layer + "." + rest;
        }
    }

    private final String prefix;
    private final Map<Integer, List<String>> byLayer;

    private LayerStack(String prefix, Map<Integer, List<String>> byLayer) {
        this.prefix = prefix;
        this.byLayer = byLayer;
    }

    static Optional<Name> parse(String tensor) {
        Matcher m = LAYER.matcher(tensor);
        return m.matches() ? Optional.of(new Name(m.group(1), m.group(2), m.group(3))) : Optional.empty();
    }

    /**
     * Finds the stack among {@code names} (storage order) and checks its numbering against {@code layers}, the
     * config's num_hidden_layers. {@code file} is named in errors.
     */
    static LayerStack of(Path file, List<String> names, int layers) throws FormatException {
        String prefix = null;
        String prefixTensor = null;
        Map<Integer, List<String>> byLayer = new TreeMap<>();
        for (String name : names) {
            Optional<Name> parsed = parse(name);
            if (parsed.isEmpty()) {
                continue;
            }
            Name n = parsed.get();
            if (prefix == null) {
                prefix = n.prefix();
                prefixTensor = name;
            } else if (!prefix.equals(n.prefix())) {
                throw new FormatException(file, name, "belongs to a second stack of numbered layers ('" + n.prefix()
                        + "N.', besides '" + prefix + "N.' of '" + prefixTensor + "'): upscale copies models with one");
            }
            if (n.number().length() > 1 && n.number().startsWith("0")) {
                throw new FormatException(file, name, "layer number '" + n.number() + "' has a leading zero: layers "
                        + "must be numbered 0.." + (layers - 1));
            }
            if (n.number().length() > 9 || Integer.parseInt(n.number()) >= layers) {
                throw new FormatException(file, name, "belongs to layer " + n.number() + ", but num_hidden_layers is "
                        + layers + ": layers must be numbered 0.." + (layers - 1));
            }
            byLayer.computeIfAbsent(Integer.parseInt(n.number()), k -> new ArrayList<>()).add(name);
        }
        if (prefix == null) {
            throw new FormatException(file, "has no layer tensors (names like model.layers.N....): nothing to copy");
        }
        for (int i = 0; i < layers; i++) {
            if (!byLayer.containsKey(i)) {
                throw new FormatException(file, "has no tensors of layer " + i + " ('" + prefix + i + "....'): layers "
                        + "must be numbered 0.." + (layers - 1) + " (num_hidden_layers " + layers + ")");
            }
        }
        return new LayerStack(prefix, byLayer);
    }

    /** Tensors of source layer {@code layer}, in storage order. */
    List<String> tensorsOf(int layer) {
        return byLayer.get(layer);
    }

    boolean isLayerTensor(String name) {
        return parse(name).filter(n -> n.prefix().equals(prefix)).isPresent();
    }

    /** {@code name} (a tensor of some layer) renamed into layer {@code layer}. */
    static String rename(String name, int layer) {
        return parse(name).orElseThrow(() -> new IllegalArgumentException("not a layer tensor: " + name))
                .withLayer(layer);
    }

    /**
     * The output's tensors in order, each with the source it copies: the non-layer tensors stored before the
     * first layer (embeddings), the output layers in order, each its source layer's tensors in storage order,
     * then the remaining non-layer tensors (final norm, head).
     */
    List<Copy> copies(List<String> names, LayerMap map) {
        List<Copy> head = new ArrayList<>();
        List<Copy> tail = new ArrayList<>();
        boolean seenLayer = false;
        for (String name : names) {
            if (isLayerTensor(name)) {
                seenLayer = true;
            } else {
                (seenLayer ? tail : head).add(new Copy(name, name, -1));
            }
        }
        List<Copy> out = new ArrayList<>(head);
        int[] sources = map.sources();
        for (int j = 0; j < sources.length; j++) {
            for (String name : tensorsOf(sources[j])) {
                out.add(new Copy(name, rename(name, j), j));
            }
        }
        out.addAll(tail);
        return out;
    }

    /** One output tensor: the source tensor it copies and its name in the output; layer -1 outside the layers. */
    record Copy(String source, String target, int layer) {}
}
