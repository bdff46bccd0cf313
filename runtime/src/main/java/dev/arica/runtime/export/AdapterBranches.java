package dev.arica.runtime.export;

import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.lora.LoraAdapter;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.model.Role;
import dev.arica.formats.model.TensorSpec;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A LoRA adapter checked against the model it is exported with, as the graph's low-rank branches: every adapted
 * module must be one of the model's projections, its factors of the projection's shape; the first that is not is
 * named. Modules to save (whole replaced tensors) cannot be a branch and are refused: merge them with merge-lora.
 */
final class AdapterBranches {
    private AdapterBranches() {}

    static Map<String, DecoderGraph.LoraBranch> of(ModelDescription m, LoraAdapter adapter) throws FormatException {
        if (!adapter.saved().isEmpty()) {
            throw new FormatException(adapter.weights().path(), adapter.saved().values().iterator().next(),
                    "replaces a whole tensor (modules_to_save), which only arica merge-lora applies");
        }
        Map<String, TensorInfo> factors = new LinkedHashMap<>();
        adapter.weights().tensors().forEach(t -> factors.put(t.name(), t));
        Map<String, DecoderGraph.LoraBranch> out = new LinkedHashMap<>();
        for (LoraAdapter.Module mod : adapter.modules().values()) {
            String weight = mod.name() + ".weight";
            TensorSpec spec = m.tensors().byName(weight).orElseThrow(() -> new FormatException(adapter.weights().path(),
                    mod.a(), "adapts " + mod.name() + ", but the " + m.family().id() + " model has no " + weight
                            + " (an adapter for another model?)"));
            if (spec.role().kind != Role.Kind.PROJECTION) {
                throw new FormatException(adapter.weights().path(), mod.a(), "adapts " + weight + ", which is not a "
                        + "projection (" + spec.role() + ")");
            }
            int rank = adapter.config().rank(mod.name());
            check(adapter, mod.a(), factors.get(mod.a()), new long[] {rank, spec.inFeatures()}, weight);
            check(adapter, mod.b(), factors.get(mod.b()), new long[] {spec.outFeatures(), rank}, weight);
            out.put(weight, new DecoderGraph.LoraBranch(mod.a(), mod.b(), adapter.config().scaling(mod.name())));
        }
        return out;
    }

    private static void check(LoraAdapter adapter, String name, TensorInfo t, long[] want, String weight)
            throws FormatException {
        if (!Arrays.equals(t.shape(), want)) {
            throw new FormatException(adapter.weights().path(), name, "has shape " + t.shapeString() + " but " + weight
                    + " implies " + Arrays.toString(want));
        }
    }
}
