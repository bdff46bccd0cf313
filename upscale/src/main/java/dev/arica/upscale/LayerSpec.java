package dev.arica.upscale;

import java.util.List;
import java.util.stream.Collectors;

/** The layers asked for, before the model's layer count is known: {@code --drop M} or {@code --slices ...}. */
public sealed interface LayerSpec {

    /** SOLAR's depth up-scaling dropping {@code layers} at the seam ({@link LayerMap#drop}). */
    record Drop(int layers) implements LayerSpec {
        @Override
        public LayerMap resolve(int sourceLayers) {
            return LayerMap.drop(layers, sourceLayers);
        }

        @Override
        public String describe() {
            return "--drop " + layers;
        }
    }

    /** Explicit ranges, copied in order. */
    record Slices(List<Slice> slices) implements LayerSpec {
        public Slices {
            slices = List.copyOf(slices);
        }

        public static Slices parse(String text) {
            return new Slices(Slice.parseList(text));
        }

        @Override
        public LayerMap resolve(int sourceLayers) {
            return new LayerMap(sourceLayers, slices);
        }

        @Override
        public String describe() {
            return "--slices " + slices.stream().map(Slice::toString).collect(Collectors.joining(","));
        }
    }

    /** The map for a model of {@code sourceLayers} layers; IllegalArgumentException when it does not fit. */
    LayerMap resolve(int sourceLayers);

    /** The option as written on the command line. */
    String describe();
}
