package dev.arica.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.io.Json;
import dev.arica.formats.model.ConfigFields;
import dev.arica.formats.model.EncoderFamily;
import dev.arica.formats.model.Families;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.generate.GenAiConfig;
import dev.arica.runtime.generate.OnnxExportCache;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A MODEL argument that is a transformer encoder, resolved to an ONNX file and its tokenizer: an encoder checkpoint
 * (BERT, RoBERTa: HF directory, .safetensors with config.json, .arica) exported on the fly into the cache, an
 * exported encoder directory, or any ONNX encoder file (exported elsewhere) with its tokenizer.json beside it.
 */
final class EncoderInput implements AutoCloseable {
    /** sentence-transformers' module list: its models are used mean-pooled and normalized. */
    static final String SENTENCE_TRANSFORMERS_FILE = "modules.json";

    private final OnnxExportCache.Entry entry;
    private final Path onnx;
    private final Tokenizer tokenizer;
    private final boolean sentenceTransformers;

    private EncoderInput(OnnxExportCache.Entry entry, Path onnx, Tokenizer tokenizer, boolean sentenceTransformers) {
        this.entry = entry;
        this.onnx = onnx;
        this.tokenizer = tokenizer;
        this.sentenceTransformers = sentenceTransformers;
    }

    /** Whether {@code model} is an encoder: an ONNX file not exported by arica as a decoder, an encoder export or checkpoint. */
    static boolean applies(Path model) throws IOException {
        boolean onnxFile = ModelInput.onnxFile(model);
        Path dir = onnxFile ? model.toAbsolutePath().getParent() : model;
        Path genai = dir.resolve(GenAiConfig.FILE);
        if (Files.isDirectory(dir) && Files.isRegularFile(genai)) {
            return Json.readObjectFile(genai).path("kind").asText("").equals("encoder");
        }
        if (onnxFile) {
            return true;
        }
        Optional<ObjectNode> config = Optional.empty();
        if (Files.isDirectory(model) && Files.isRegularFile(model.resolve("config.json"))) {
            config = Optional.of(Json.readObjectFile(model.resolve("config.json")));
        } else if (Files.isRegularFile(model) && AricaFile.looksLikeArica(model)) {
            try (AricaFile f = AricaFile.open(model)) {
                config = f.config();
            }
        } else if (Files.isRegularFile(model) && model.toAbsolutePath().getParent() != null
                && Files.isRegularFile(model.toAbsolutePath().getParent().resolve("config.json"))) {
            config = Optional.of(Json.readObjectFile(model.toAbsolutePath().getParent().resolve("config.json")));
        }
        if (config.isEmpty()) {
            return false;
        }
        return Families.declared(new ConfigFields(model, config.get())).filter(f -> f instanceof EncoderFamily).isPresent();
    }

    /** The ONNX file and tokenizer of {@code model}, exported first when it is a checkpoint. */
    static EncoderInput resolve(Path model, Path tokenizerFile, ModelInput.CacheChoice cacheChoice, OnnxExporter.Options options,
            PrintWriter err) throws IOException {
        if (ModelInput.onnxFile(model)) {
            Path dir = model.toAbsolutePath().getParent();
            return new EncoderInput(null, model, tokenizer(dir, tokenizerFile), Files.isRegularFile(dir.resolve(SENTENCE_TRANSFORMERS_FILE)));
        }
        OnnxExportCache.Entry e = ModelInput.exportedDirectory(model, null, false, cacheChoice, options, err);
        try {
            Path dir = e.directory();
            return new EncoderInput(e, dir.resolve(OnnxExporter.MODEL_FILE), tokenizer(dir, tokenizerFile),
                    Files.isRegularFile(dir.resolve(SENTENCE_TRANSFORMERS_FILE)));
        } catch (IOException | RuntimeException ex) {
            e.close();
            throw ex;
        }
    }

    private static Tokenizer tokenizer(Path dir, Path tokenizerFile) throws IOException {
        if (tokenizerFile != null) {
            return Tokenizer.open(tokenizerFile);
        }
        return Tokenizer.presentIn(dir) ? Tokenizer.open(dir) : null;
    }

    Path onnx() {
        return onnx;
    }

    /** The tokenizer, or empty when the model has none (then texts are refused and ids are needed). */
    Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /** Whether the model is a sentence-transformers model (modules.json), used mean-pooled and normalized. */
    boolean sentenceTransformers() {
        return sentenceTransformers;
    }

    @Override
    public void close() throws IOException {
        if (entry != null) {
            entry.close();
        }
    }
}
