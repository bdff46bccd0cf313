package dev.arica.cli;

import dev.arica.formats.lora.LoraAdapter;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.generate.OnnxDecoder;
import dev.arica.runtime.ort.CudaProbe;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;
import picocli.CommandLine.TypeConversionException;

/**
 * The options of the commands that run models (generate, validate, forward): device, threads, tokenizer,
 * where on-the-fly exports go and how they are made.
 */
final class RunOptions {

    /** Which graph an on-the-fly export writes. */
    enum Graph { auto, standard, ort_optimized }

    /** Accepts the names as printed (ort-optimized). */
    static final class GraphConverter implements ITypeConverter<Graph> {
        @Override
        public Graph convert(String value) {
            try {
                return Graph.valueOf(value.replace('-', '_'));
            } catch (IllegalArgumentException e) {
                throw new TypeConversionException("expected auto, standard or ort-optimized, not '" + value + "'");
            }
        }
    }

    @Option(names = "--device", defaultValue = "auto", paramLabel = "DEVICE",
            description = "auto (CUDA when usable, else the CPU), cuda or cpu (default: ${DEFAULT-VALUE}).")
    Device device;

    @Option(names = "--threads", paramLabel = "N",
            description = "ONNX Runtime intra-op threads (default: the cores available to the JVM).")
    Integer threads;

    @Option(names = "--tokenizer", paramLabel = "FILE",
            description = "Tokenizer (tokenizer.json or a llama2.c tokenizer .bin) instead of the model's own; a llama2.c "
                    + ".bin otherwise needs tokenizer.bin or tok<vocab>.bin beside it.")
    Path tokenizerFile;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Where on-the-fly exports and file digests are kept (default: $ARICA_CACHE_DIR, else "
                    + "$XDG_CACHE_HOME/arica, else ~/.cache/arica).")
    Path cacheDir;

    @Option(names = "--no-cache", description = "Export to a temporary directory, deleted at the end, instead of the cache.")
    boolean noCache;

    @Option(names = "--graph", defaultValue = "auto", paramLabel = "KIND", converter = GraphConverter.class,
            description = "Graph of an on-the-fly export: standard (ONNX operators only), ort-optimized (ONNX Runtime's "
                    + "fused operators: faster on the CPU, same ids) or auto: ort-optimized on the CPU, standard on CUDA "
                    + "(whose GroupQueryAttention has no float32 kernel) (default: ${DEFAULT-VALUE}). Exported "
                    + "directories run as they are.")
    Graph graph;

    @Option(names = "--accuracy-level", paramLabel = "L", defaultValue = "4",
            description = "For an .arica or GGUF model exported on the fly: MatMulNBits accuracy_level, 4 (int8 activations, as "
                    + "llama.cpp computes: fast) or 0 (float32 compute with the stored values exactly) "
                    + "(default: ${DEFAULT-VALUE}).")
    int accuracyLevel;

    /** Refuses impossible values (exit 2). */
    void check() {
        checkAccuracyLevel(accuracyLevel);
        if (threads != null && threads < 1) {
            throw AricaException.badInput("--threads must be at least 1, not " + threads);
        }
    }

    /** The MatMulNBits levels the CLI offers: 4 (int8 activations) and 0 (float32); else exit 2. */
    static int checkAccuracyLevel(int level) {
        if (level != 0 && level != 4) {
            throw AricaException.badInput("--accuracy-level must be 0 or 4, not " + level);
        }
        return level;
    }

    int intraOpThreads() {
        return threads != null ? threads : Runtime.getRuntime().availableProcessors();
    }

    ModelInput.CacheChoice cache() {
        return new ModelInput.CacheChoice(cacheDir, noCache);
    }

    /** MODEL resolved with these options (--tokenizer, the cache, the export's graph). */
    ModelInput resolve(Path model, boolean needsTokenizer, PrintWriter err) throws IOException {
        return resolve(model, needsTokenizer, null, err);
    }

    /** The same with a LoRA adapter (null for none) in the export of a checkpoint. */
    ModelInput resolve(Path model, boolean needsTokenizer, LoraAdapter adapter, PrintWriter err) throws IOException {
        return ModelInput.resolve(model, tokenizerFile, needsTokenizer, cache(), exportOptions().withAdapter(adapter), err);
    }

    /** A decoder of {@code input} on {@code device} with --threads; it closes its session. */
    OnnxDecoder decoder(ModelInput input, Device device) throws IOException {
        return OnnxDecoder.open(input.directory(), input.sessionOptions(device, intraOpThreads()));
    }

    /** "cpu", "cuda": the device a session got, as printed and in JSON. */
    static String deviceName(InferenceSession session) {
        return session.provider().name().toLowerCase(Locale.ROOT);
    }

    /** The line saying which device runs the model, and why not CUDA when auto did not get it. */
    static void printDevice(InferenceSession session, PrintWriter err) {
        err.println("arica: device " + deviceName(session)
                + (session.providerNote().isEmpty() ? "" : " (CUDA: " + session.providerNote() + ")"));
        err.flush();
    }

    /** How a model that is not ONNX yet is exported. */
    OnnxExporter.Options exportOptions() {
        return OnnxExporter.Options.defaults().withFlavour(flavour()).withAccuracyLevel(accuracyLevel);
    }

    /** ORT's fused graph on the CPU, the standard one for CUDA (GroupQueryAttention has no float32 CUDA kernel). */
    private OnnxExporter.Flavour flavour() {
        return switch (graph) {
            case standard -> OnnxExporter.Flavour.STANDARD;
            case ort_optimized -> OnnxExporter.Flavour.ORT_OPTIMIZED;
            case auto -> {
                boolean cuda = switch (device) {
                    case CPU -> false;
                    case CUDA -> true;
                    case AUTO -> CudaProbe.probe().available();
                };
                yield cuda ? OnnxExporter.Flavour.STANDARD : OnnxExporter.Flavour.ORT_OPTIMIZED;
            }
        };
    }
}
