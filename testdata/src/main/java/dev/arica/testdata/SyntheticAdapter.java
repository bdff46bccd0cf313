package dev.arica.testdata;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.FloatCast;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.Json;
import dev.arica.formats.model.ModelDescription;
import dev.arica.formats.model.Orientation;
import dev.arica.formats.model.Role;
import dev.arica.formats.model.TensorSpec;
import dev.arica.formats.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A deterministic PEFT LoRA adapter for a described checkpoint, written as peft saves one: adapter_config.json and
 * adapter_model.safetensors with factors A [r, in] ~ N(0, std) and B [out, r] ~ N(0, std) (B non-zero, unlike
 * peft's initialisation, so that the adapter changes the outputs) for every projection of the layers whose module
 * name ends with one of {@code targets}.
 */
public final class SyntheticAdapter {
    private SyntheticAdapter() {}

    /** Writes the adapter into {@code dir}; returns the adapted modules. */
    public static List<String> write(Checkpoint base, Path dir, int rank, double alpha, List<String> targets, double std,
            long seed) throws IOException {
        ModelDescription m = ModelDescription.of(base, "a synthetic adapter");
        List<TensorSpec> adapted = new ArrayList<>();
        for (TensorSpec t : m.tensors().specs()) {
            String module = t.name().substring(0, t.name().length() - ".weight".length());
            if (t.role().kind == Role.Kind.PROJECTION && t.layer() >= 0 && t.name().endsWith(".weight")
                    && targets.stream().anyMatch(x -> module.endsWith("." + x))) {
                adapted.add(t);
            }
        }
        List<TensorInfo> infos = new ArrayList<>();
        for (TensorSpec t : adapted) {
            String module = "base_model.model." + t.name().substring(0, t.name().length() - ".weight".length());
            infos.add(new TensorInfo(module + ".lora_A.weight", DType.F32, new long[] {rank, t.inFeatures()}));
            infos.add(new TensorInfo(module + ".lora_B.weight", DType.F32, new long[] {t.outFeatures(), rank}));
        }
        Files.createDirectories(dir);
        try (SafetensorsWriter w = SafetensorsWriter.create(dir.resolve("adapter_model.safetensors"), infos,
                Map.of("format", "pt")); Arena arena = Arena.ofConfined()) {
            for (int i = 0; i < infos.size(); i++) {
                TensorInfo t = infos.get(i);
                SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + i);
                MemorySegment data = arena.allocate(t.byteSize(), 64);
                for (long e = 0; e < t.elements(); e++) {
                    data.setAtIndex(FloatCast.F32_LE, e, (float) (SyntheticModel.gaussian(rnd) * std));
                }
                w.begin(t.name());
                w.write(data);
            }
            w.commit();
        }
        ObjectNode cfg = Json.MAPPER.createObjectNode();
        cfg.put("peft_type", "LORA").put("r", rank).put("lora_alpha", alpha).put("use_rslora", false)
                .put("fan_in_fan_out", adapted.stream().anyMatch(x -> x.orientation() == Orientation.IN_OUT))
                .put("bias", "none").put("task_type", "CAUSAL_LM");
        ArrayNode t = cfg.putArray("target_modules");
        Set<String> names = new LinkedHashSet<>(targets);
        names.forEach(t::add);
        Files.writeString(dir.resolve("adapter_config.json"), Json.MAPPER.writeValueAsString(cfg) + "\n");
        return adapted.stream().map(TensorSpec::name).toList();
    }
}
