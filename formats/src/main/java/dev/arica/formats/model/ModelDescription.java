package dev.arica.formats.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A checkpoint described: its family, typed hyper-parameters and tensor table, the table checked against the tensors
 * the checkpoint holds (a missing or misshapen tensor is one line naming it).
 */
public record ModelDescription(Family<?> family, ModelConfig config, TensorTable tensors) {

    /** The configuration of a transformer decoder; callers ask only after choosing by {@link #transformer()}. */
    public DecoderConfig decoder() {
        if (config instanceof DecoderConfig d) {
            return d;
        }
        throw new IllegalStateException(family.id() + " is not a transformer decoder");
    }

    /** Whether the model is a transformer decoder (else a recurrent one). */
    public boolean transformer() {
        return config instanceof DecoderConfig;
    }

    /** The description of {@code c}; {@code purpose} ("ONNX export") is named when the family is not supported. */
    public static ModelDescription of(Checkpoint c, String purpose) throws IOException {
        Path where = Files.isDirectory(c.path()) ? c.path().resolve("config.json") : c.path();
        ObjectNode cfg = c.config().orElseThrow(() -> new FormatException(c.path(),
                "has no config.json; " + (purpose.isEmpty() ? "arica" : purpose) + " needs the model's configuration"));
        Map<String, TensorInfo> stored = new LinkedHashMap<>();
        for (TensorInfo t : c.tensors()) {
            stored.put(t.name(), t);
        }
        return of(c.path(), new ConfigFields(where, cfg), generationConfig(c), stored, purpose);
    }

    /**
     * The description of a configuration and the tensors (by name) of {@code checkpoint}, which errors about tensors
     * name; {@code generation} may be null.
     */
    public static ModelDescription of(Path checkpoint, ConfigFields cfg, ConfigFields generation,
            Map<String, TensorInfo> stored, String purpose) throws FormatException {
        Family<?> family = Families.of(cfg, purpose);
        ModelDescription d = family.describe(cfg, tokenIds(cfg, generation), stored.keySet());
        d.tensors().check(checkpoint, stored, family.id());
        return d;
    }

    /** generation_config.json's bos/eos ids win over config.json's, as transformers' generate() reads them. */
    private static Family.TokenIds tokenIds(ConfigFields cfg, ConfigFields gen) throws FormatException {
        List<Integer> eos = gen != null && gen.has("eos_token_id") ? gen.tokenIds("eos_token_id") : cfg.tokenIds("eos_token_id");
        List<Integer> bos = gen != null && gen.has("bos_token_id") ? gen.tokenIds("bos_token_id") : cfg.tokenIds("bos_token_id");
        return new Family.TokenIds(bos.isEmpty() ? null : bos.getFirst(), eos);
    }

    /** generation_config.json among the checkpoint's side files, or null. */
    private static ConfigFields generationConfig(Checkpoint c) throws IOException {
        for (AuxFile a : c.auxFiles()) {
            if (a.name().equals("generation_config.json")) {
                Path file = a.source() != null ? a.source() : c.path().resolve(a.name());
                if (a.source() != null) {
                    return new ConfigFields(file, Json.readObjectFile(a.source()));
                }
                if (!(Json.parse(file, a.content(), "generation_config.json") instanceof ObjectNode g)) {
                    throw new FormatException(file, "is not a JSON object");
                }
                return new ConfigFields(file, g);
            }
        }
        return null;
    }
}
