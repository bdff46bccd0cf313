package dev.arica.runtime.calibrate;

import dev.arica.formats.io.AtomicOutput;
import dev.arica.quantize.Calibration;
import dev.arica.quantize.InputStatistics;
import dev.arica.quantize.Method;
import dev.arica.runtime.export.LinearInputs;
import dev.arica.runtime.generate.ForwardPass;
import dev.arica.runtime.generate.OnnxDecoder;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The inputs of a decoder's linear layers on calibration text, as {@link Calibration} statistics: the float model,
 * exported with its {@link LinearInputs} as outputs, runs once over the tokens (windows of up to {@code window}
 * positions, each from an empty cache, fed in chunks that bound the logits held), and every projection input is
 * appended as float32 rows to a file of its own in a temporary directory. Statistics are then made from those files
 * when a layer's weights are asked for, and only that layer's are kept: memory holds one layer's statistics (GPTQ's
 * Hessians of its inputs) and one input's activations at a time, whatever the model's depth. Closing deletes the files.
 */
public final class LayerInputs implements Calibration, AutoCloseable {
    /** The resource of the built-in calibration text (written for arica, see docs/quantization.md). */
    public static final String BUILT_IN = "calibration-en.txt";
    /** Activation rows read back per batch when statistics are made. */
    private static final int READ_ROWS = 256;

    private final Path spill;
    private final Method method;
    private final String description;
    private final Map<String, LinearInputs.Output> byWeight = new HashMap<>();
    private final Map<LinearInputs.Output, Long> columns = new HashMap<>();
    private final Map<LinearInputs.Output, Path> files = new HashMap<>();
    private final long tokens;
    private int cachedLayer = Integer.MIN_VALUE;
    private final Map<LinearInputs.Output, InputStatistics> cache = new HashMap<>();

    private LayerInputs(Path spill, Method method, String description, long tokens) {
        this.spill = spill;
        this.method = method;
        this.description = description;
        this.tokens = tokens;
    }

    /**
     * Runs {@code decoder} (a graph exported with its linear inputs) over {@code ids} and spills the inputs under a new
     * temporary directory in {@code tmp}.
     *
     * @param method what the statistics are for: {@link Method#GPTQ} makes Hessians, {@link Method#SEARCH} importances
     * @param window most positions per run from an empty cache
     * @param description what the text was, for the reports
     */
    public static LayerInputs collect(OnnxDecoder decoder, int[] ids, int window, Method method, Path tmp,
            String description) throws IOException {
        if (ids.length == 0) {
            throw new IllegalArgumentException("no calibration tokens");
        }
        Set<String> outputs = new LinkedHashSet<>();
        for (String name : decoder.session().outputs().keySet()) {
            LinearInputs.parse(name).ifPresent(o -> outputs.add(o.name()));
        }
        if (outputs.isEmpty()) {
            throw new IllegalArgumentException(decoder.session().model() + " has no linear-input outputs (export it with "
                    + "them for calibration)");
        }
        Path dir = AtomicOutput.scratchDirectory(tmp, "arica-calibration-"); // removed on a signal too
        LayerInputs result = new LayerInputs(dir, method, description, ids.length);
        Map<String, FileChannel> files = new LinkedHashMap<>();
        try {
            int i = 0;
            for (String name : outputs) {
                LinearInputs.Output o = LinearInputs.parse(name).orElseThrow();
                Path file = dir.resolve("input-" + i++ + ".f32");
                files.put(name, FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE));
                result.files.put(o, file);
                result.columns.put(o, decoder.session().outputs().get(name).shape()[1]);
                for (String w : o.weights()) {
                    result.byWeight.put(w, o);
                }
            }
            int chunk = ForwardPass.chunkTokens(decoder.vocabSize());
            int span = decoder.contextLength() > 0 ? Math.min(window, decoder.contextLength()) : window;
            for (int w0 = 0; w0 < ids.length; w0 += span) {
                decoder.reset();
                int w1 = Math.min(ids.length, w0 + span);
                for (int from = w0; from < w1; from += chunk) {
                    int n = Math.min(chunk, w1 - from);
                    long[] fed = new long[n];
                    long[] positions = new long[n];
                    for (int j = 0; j < n; j++) {
                        fed[j] = ids[from + j];
                        positions[j] = from - w0 + j;
                    }
                    decoder.forwardWith(fed, positions, outputs, (name, values) -> append(files.get(name), values));
                }
            }
        } catch (IOException | RuntimeException e) {
            closeAll(files.values());
            result.close();
            throw e;
        }
        closeAll(files.values());
        return result;
    }

    private static void append(FileChannel f, FloatBuffer values) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(values.remaining() * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(values);
        while (b.hasRemaining()) {
            f.write(b);
        }
    }

    private static void closeAll(Iterable<FileChannel> files) throws IOException {
        for (FileChannel f : files) {
            f.close();
        }
    }

    /** The built-in English calibration text: short simple stories, about 800 words. */
    public static String builtInText() throws IOException {
        try (var in = LayerInputs.class.getResourceAsStream(BUILT_IN)) {
            if (in == null) {
                throw new IOException("the built-in calibration text " + BUILT_IN + " is missing from the runtime jar");
            }
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    /** Token positions measured. */
    public long tokens() {
        return tokens;
    }

    /** The weights whose inputs were measured. */
    public Set<String> weights() {
        return Set.copyOf(byWeight.keySet());
    }

    @Override
    public synchronized Optional<InputStatistics> inputs(String tensor) throws IOException {
        LinearInputs.Output o = byWeight.get(tensor);
        if (o == null) {
            return Optional.empty();
        }
        if (o.layer() != cachedLayer) {
            cache.clear(); // one layer's statistics at a time
            cachedLayer = o.layer();
        }
        InputStatistics s = cache.get(o);
        if (s == null) {
            s = statistics(o);
            cache.put(o, s);
        }
        return Optional.of(s);
    }

    private InputStatistics statistics(LinearInputs.Output o) throws IOException {
        int k = Math.toIntExact(columns.get(o));
        Path file = files.get(o);
        InputStatistics.Accumulator acc = new InputStatistics.Accumulator(k, method);
        float[] rows = new float[READ_ROWS * k];
        ByteBuffer b = ByteBuffer.allocate(READ_ROWS * k * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        try (FileChannel f = FileChannel.open(file, StandardOpenOption.READ)) {
            while (true) {
                b.clear();
                int read;
                do {
                    read = f.read(b);
                } while (read > 0 && b.hasRemaining());
                b.flip();
                int n = b.remaining() / (k * Float.BYTES);
                if (n == 0) {
                    break;
                }
                b.asFloatBuffer().get(rows, 0, n * k);
                acc.add(rows, n);
            }
        }
        return acc.finish();
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public void close() throws IOException {
        cache.clear();
        AtomicOutput.deleteScratch(spill);
    }
}
