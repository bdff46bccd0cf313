package dev.arica.upscale;

import java.util.List;
import java.util.stream.Collectors;

/**
 * Which source layer each layer of the output copies: the slices concatenated, renumbered from 0. For
 * SOLAR's depth up-scaling of n = 32 layers dropping m = 8: slices 0:24 and 8:32, 48 layers, layer j
 * copying source j for j < 24 and source j - 16 after.
 *
 * @param sourceLayers layers of the input model
 */
public record LayerMap(int sourceLayers, List<Slice> slices) {

    public LayerMap {
        slices = List.copyOf(slices);
        if (sourceLayers < 1) {
            throw new IllegalArgumentException("the model has no layers to copy");
        }
        if (slices.isEmpty()) {
            throw new IllegalArgumentException("no layer ranges given");
        }
        long total = 0;
        for (Slice s : slices) {
            s.check(sourceLayers);
            total += s.length();
        }
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("the ranges add up to " + total + " layers, too many");
        }
    }

    /**
     * SOLAR's depth up-scaling: the model twice, its last {@code drop} layers removed from the first copy
     * and its first {@code drop} from the second, 2 (n - drop) layers.
     */
    public static LayerMap drop(int drop, int sourceLayers) {
        if (drop < 0) {
            throw new IllegalArgumentException("--drop " + drop + ": the number of layers to drop cannot be negative");
        }
        if (drop >= sourceLayers) {
            throw new IllegalArgumentException("--drop " + drop + " leaves no layers: the model has " + sourceLayers
                    + (sourceLayers == 1 ? " layer" : " layers, so at most --drop " + (sourceLayers - 1)));
        }
        return new LayerMap(sourceLayers, List.of(new Slice(0, sourceLayers - drop), new Slice(drop, sourceLayers)));
    }

    /** Layers of the output. */
    public int layers() {
        int n = 0;
        for (Slice s : slices) {
            n += s.length();
        }
        return n;
    }

    /** For each output layer, the source layer it copies. */
    public int[] sources() {
        int[] out = new int[layers()];
        int j = 0;
        for (Slice s : slices) {
            for (int i = s.start(); i < s.end(); i++) {
                out[j++] = i;
            }
        }
        return out;
    }

    /** The ranges as the command line writes them: {@code 0:24,8:32}. */
    public String slicesText() {
        return slices.stream().map(Slice::toString).collect(Collectors.joining(","));
    }

    /** {@link #sources()} as a JSON array, as recorded in the output's metadata. */
    public String sourcesJson() {
        StringBuilder b = new StringBuilder("[");
        for (int s : sources()) {
            b.append(b.length() > 1 ? "," : "").append(s);
        }
        return b.append(']').toString();
    }

    /** True when the output is the input: one range over every layer. */
    public boolean identity() {
        return slices.size() == 1 && slices.getFirst().start() == 0 && slices.getFirst().end() == sourceLayers;
    }
}
