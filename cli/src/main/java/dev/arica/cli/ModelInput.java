package dev.arica.cli;

import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.arica.AricaCheckpoint;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.io.FileDigest;
import dev.arica.formats.llama2c.Llama2cCheckpoint;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.generate.GenAiConfig;
import dev.arica.runtime.generate.OnnxExportCache;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.tokenizer.Tokenizer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.stream.Stream;

/**
 * A MODEL argument of the commands that run models (generate, validate, forward) resolved to an ONNX directory
 * that arica exported, with its description and tokenizer (if any): the directory itself when MODEL is one,
 * else MODEL exported into the cache (or a temporary directory) first. Closing removes a temporary export.
 */
final class ModelInput implements AutoCloseable {

    /** Where on-the-fly exports go: a cache directory, or nowhere lasting. */
    record CacheChoice(Path cacheDir, boolean noCache) {
        OnnxExportCache cache() {
            if (noCache && cacheDir != null) {
                throw AricaException.badInput("--no-cache and --cache-dir exclude each other");
            }
            return noCache ? OnnxExportCache.none()
                    : OnnxExportCache.at(cacheDir != null ? cacheDir : FileDigest.defaultCacheDirectory());
        }
    }

    private final Path model;
    private final OnnxExportCache.Entry entry;
    private final GenAiConfig config;
    private final Tokenizer tokenizer;

    private ModelInput(Path model, OnnxExportCache.Entry entry, GenAiConfig config, Tokenizer tokenizer) {
        this.model = model;
        this.entry = entry;
        this.config = config;
        this.tokenizer = tokenizer;
    }

    /**
     * @param tokenizerFile a tokenizer replacing the model's own, or null
     * @param needsTokenizer whether a model without a tokenizer is refused (else it runs on ids alone)
     * @param options how a checkpoint that is not ONNX yet is exported
     * @param err where a line saying that the model was exported goes
     */
    static ModelInput resolve(Path model, Path tokenizerFile, boolean needsTokenizer, CacheChoice cacheChoice,
            OnnxExporter.Options options, PrintWriter err) throws IOException {
        OnnxExportCache.Entry entry = exportedDirectory(model, tokenizerFile, needsTokenizer, cacheChoice, options, err);
        try {
            Path dir = entry.directory();
            GenAiConfig config = GenAiConfig.read(dir.resolve(GenAiConfig.FILE));
            return new ModelInput(model, entry, config, tokenizer(dir, config, tokenizerFile, needsTokenizer));
        } catch (IOException | RuntimeException e) {
            entry.close();
            throw e;
        }
    }

    Path model() {
        return model;
    }

    /**
     * The bytes MODEL takes on disk, as given: its file, or every regular file under its directory (an ONNX file's
     * external data beside it not counted); empty when they cannot be listed.
     */
    OptionalLong bytesOnDisk() {
        try {
            if (Files.isRegularFile(model)) {
                return OptionalLong.of(Files.size(model));
            }
            try (Stream<Path> files = Files.walk(model)) {
                long sum = 0;
                for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                    sum += Files.size(f);
                }
                return OptionalLong.of(sum);
            }
        } catch (IOException | UncheckedIOException e) {
            return OptionalLong.empty();
        }
    }

    /** The exported directory: model.onnx, arica-genai.json, the tokenizer. */
    Path directory() {
        return entry.directory();
    }

    GenAiConfig config() {
        return config;
    }

    /** The tokenizer; empty only when the model has none and none was needed. */
    Optional<Tokenizer> tokenizer() {
        return Optional.ofNullable(tokenizer);
    }

    /**
     * Session options for this model: quantized weights are prepacked (MatMulNBits' fast kernels need their
     * own layout, a copy the size of the quantized weights); float ones are used in place from the mapping.
     */
    InferenceSession.Options sessionOptions(Device device, int intraOpThreads) {
        return new InferenceSession.Options(device, intraOpThreads, 0, config.quantized());
    }

    /** The ids of {@code prompt} with the beginning-of-sequence id, checked against the model's vocabulary and context. */
    int[] encode(String prompt) {
        int[] ids = tokenizer().orElseThrow().encode(prompt, true);
        if (ids.length == 0) {
            throw AricaException.badInput("the prompt is empty and the tokenizer has no beginning-of-sequence token: "
                    + "give some text");
        }
        if (config.contextLength() > 0 && ids.length > config.contextLength()) {
            throw AricaException.badInput("the prompt is " + ids.length + " tokens, longer than the model's context of "
                    + config.contextLength());
        }
        for (int id : ids) {
            if (id >= config.vocabSize()) {
                throw AricaException.badInput("the tokenizer gives id " + id + ", outside the model's vocabulary of "
                        + config.vocabSize() + " (a tokenizer of another model?)");
            }
        }
        return ids;
    }

    @Override
    public void close() throws IOException {
        entry.close();
    }

    /** Whether MODEL names an ONNX file (whose directory holds what was exported with it). */
    static boolean onnxFile(Path model) {
        return Files.isRegularFile(model) && model.getFileName().toString().endsWith(".onnx");
    }

    /** MODEL as an exported directory: itself when it is one, else its export from the cache (made now if needed). */
    static OnnxExportCache.Entry exportedDirectory(Path model, Path tokenizerFile, boolean needsTokenizer,
            CacheChoice cacheChoice, OnnxExporter.Options options, PrintWriter err) throws IOException {
        Path dir = onnxFile(model) ? model.toAbsolutePath().getParent() : model;
        if (Files.isDirectory(dir) && Files.isRegularFile(dir.resolve(GenAiConfig.FILE))) {
            if (options.adapter() != null) {
                throw AricaException.badInput(model + ": --adapter needs the checkpoint to export, not an exported directory");
            }
            return new OnnxExportCache.Entry(dir, null, false, java.time.Duration.ZERO, null);
        }
        if (!dir.equals(model)) {
            throw AricaException.badInput(model + ": no " + GenAiConfig.FILE + " beside it; give the directory arica "
                    + "export-onnx wrote, or the checkpoint to export");
        }
        OnnxExportCache cache = cacheChoice.cache();
        // An .arica file embeds its tokenizer; --tokenizer then only replaces it when generating.
        boolean arica = Files.isRegularFile(model) && AricaFile.looksLikeArica(model);
        try (Checkpoint in = openCheckpoint(model, arica ? null : tokenizerFile)) {
            if (needsTokenizer && tokenizerFile == null && !hasTokenizer(in)) {
                throw AricaException.badInput(model + ": no tokenizer found" + (in instanceof Llama2cCheckpoint l
                        ? " (looked for tokenizer.bin and tok" + l.header().vocab() + ".bin beside it)"
                        : " (looked for " + String.join(", ", Tokenizer.files()) + ")")
                        + "; give one with --tokenizer FILE");
            }
            OnnxExportCache.Entry e = cache.export(in, options, "arica " + Cli.version(), ProgressPrinter.forStderr(err));
            if (e.exported()) {
                err.printf(Locale.ROOT, "arica: exported %s to ONNX in %.1f s (%s)%n", model, e.took().toNanos() / 1e9,
                        cache.root() == null ? "temporary, --no-cache" : "cached in " + e.directory());
                err.flush();
            }
            return e;
        }
    }

    /**
     * A checkpoint to export: an .arica file (its quantized weights run as stored), else anything
     * {@link Checkpoint#open(Path, Path)} reads.
     */
    static Checkpoint openCheckpoint(Path model, Path tokenizerFile) throws IOException {
        if (Files.isRegularFile(model) && AricaFile.looksLikeArica(model)) {
            if (tokenizerFile != null) {
                throw AricaException.badInput(model + ": --tokenizer does not apply to an .arica file, whose tokenizer "
                        + "is embedded; give it to generate instead");
            }
            return AricaCheckpoint.open(model);
        }
        return Checkpoint.open(model, tokenizerFile);
    }

    private static boolean hasTokenizer(Checkpoint in) {
        return Tokenizer.among(in.auxFiles().stream().map(AuxFile::name).toList());
    }

    /** The tokenizer of the exported directory, or null when it has none and none is needed. */
    private static Tokenizer tokenizer(Path dir, GenAiConfig config, Path tokenizerFile, boolean needed) throws IOException {
        if (tokenizerFile != null) {
            return Tokenizer.open(tokenizerFile);
        }
        if (config.tokenizer() != null) {
            if (!Files.isRegularFile(dir.resolve(config.tokenizer()))) {
                return missing(needed, dir + ": its tokenizer " + config.tokenizer() + " (named in " + GenAiConfig.FILE
                        + ") is missing; give one with --tokenizer FILE");
            }
            return Tokenizer.open(dir.resolve(config.tokenizer()));
        }
        if (!Tokenizer.presentIn(dir)) {
            return missing(needed, dir + ": no tokenizer (looked for " + String.join(", ", Tokenizer.files())
                    + "); give one with --tokenizer FILE");
        }
        return Tokenizer.open(dir);
    }

    /** No tokenizer: refused with {@code message} when one is needed, else none. */
    private static Tokenizer missing(boolean needed, String message) {
        if (needed) {
            throw AricaException.badInput(message);
        }
        return null;
    }
}
