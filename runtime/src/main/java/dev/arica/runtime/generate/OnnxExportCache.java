package dev.arica.runtime.generate;

import dev.arica.formats.AuxFile;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.Progress;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.io.FileDigest;
import dev.arica.formats.io.Json;
import dev.arica.runtime.export.OnnxExporter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Checkpoints exported to ONNX on demand, so that a generator can run anything the exporter reads. Exports
 * are kept under {@code <root>/onnx/<key>/}, the key being the SHA-256 of a description of everything the
 * export depends on: the source's data files (their SHA-256, cached by file identity in
 * {@code <root>/sha256/} through {@link FileDigest}), its tensor table, config, side files (tokenizer,
 * generation config), the export options and the producer's version. A changed input gets a new key; an
 * unchanged one, wherever it lies, finds its export again.
 *
 * <p>An export is written under a hidden temporary beside its entry and published by {@link AtomicOutput} in
 * one rename, never over an existing entry: an interrupted run leaves no entry (its temporary is removed at
 * JVM exit, or by the next export of that key after a kill), and of two runs exporting the same key at
 * once the second finds the first's entry in place and uses it.
 */
public final class OnnxExportCache {

    /** Version of the key's description; changing what goes into it changes this. */
    public static final int KEY_VERSION = 1;

    private final Path root;

    private OnnxExportCache(Path root) {
        this.root = root;
    }

    /** The cache under {@code root} (e.g. {@link FileDigest#defaultCacheDirectory()}). */
    public static OnnxExportCache at(Path root) {
        return new OnnxExportCache(root.toAbsolutePath().normalize());
    }

    /** No cache: every export goes to a temporary directory that the entry deletes when closed. */
    public static OnnxExportCache none() {
        return new OnnxExportCache(null);
    }

    /** The cache's root, or null without a cache. */
    public Path root() {
        return root;
    }

    /**
     * An exported directory ready for {@link OnnxDecoder#open}. {@code key} is null without a cache;
     * {@code exported} says whether this call exported (false: found in the cache), {@code took} how long
     * finding or exporting took. Closing removes a temporary export; a cached one stays.
     */
    public record Entry(Path directory, String key, boolean exported, Duration took, AtomicOutput scratch)
            implements AutoCloseable {
        @Override
        public void close() throws IOException {
            if (scratch != null) {
                scratch.close();
            }
        }
    }

    /**
     * The export of {@code in} with {@code options} (whose {@code replace} is ignored), from the cache or
     * made now. {@code producer} names what exports (e.g. "arica 0.1.0"): a new version exports again.
     */
    public Entry export(Checkpoint in, OnnxExporter.Options options, String producer, Progress progress)
            throws IOException {
        long start = System.nanoTime();
        OnnxExporter.Options opts = options.withReplace(false);
        if (root == null) {
            Path base = Path.of(System.getProperty("java.io.tmpdir")).resolve("arica-generate-" + ProcessHandle.current().pid());
            AtomicOutput scratch = AtomicOutput.directory(base, false);
            try {
                Path dir = scratch.temp().resolve("onnx");
                OnnxExporter.export(in, dir, opts, progress);
                return new Entry(dir, null, true, Duration.ofNanos(System.nanoTime() - start), scratch);
            } catch (IOException | RuntimeException e) {
                scratch.close();
                throw e;
            }
        }
        String key = key(in, opts, producer, root);
        Path entry = root.resolve("onnx").resolve(key);
        if (isEntry(entry)) {
            return new Entry(entry, key, false, Duration.ofNanos(System.nanoTime() - start), null);
        }
        try {
            // Published by AtomicOutput, which never replaces a directory another run filled meanwhile.
            OnnxExporter.export(in, entry, opts, progress);
        } catch (DirectoryNotEmptyException e) {
            // Another run exported the same key meanwhile: its entry is complete, use it.
            if (!isEntry(entry)) {
                throw e;
            }
            return new Entry(entry, key, false, Duration.ofNanos(System.nanoTime() - start), null);
        }
        return new Entry(entry, key, true, Duration.ofNanos(System.nanoTime() - start), null);
    }

    /** A complete entry: entries only ever appear whole, so its config file is enough to tell. */
    private static boolean isEntry(Path dir) {
        return Files.isRegularFile(dir.resolve(OnnxExporter.GENAI_FILE));
    }

    /** The key of {@code in}'s export: 40 hex digits of the SHA-256 of {@link #describe}. */
    static String key(Checkpoint in, OnnxExporter.Options options, String producer, Path digestCache)
            throws IOException {
        byte[] d = sha256().digest(describe(in, options, producer, digestCache).getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(d, 0, 20);
    }

    /** Everything the export depends on, one fact per line; paths and file names of the data left out. */
    static String describe(Checkpoint in, OnnxExporter.Options options, String producer, Path digestCache)
            throws IOException {
        StringBuilder b = new StringBuilder();
        b.append("arica-onnx-export-cache ").append(KEY_VERSION).append('\n');
        b.append("producer ").append(producer).append('\n');
        b.append("genai-format ").append(OnnxExporter.GENAI_FORMAT_VERSION).append('\n');
        b.append("export ").append(options.weightType()).append(' ').append(options.flavour()).append(' ')
                .append(options.onnx()).append('\n');
        if (options.portable() || options.accuracyLevel() != OnnxExporter.DEFAULT_ACCURACY_LEVEL) {
            // Only named when not the default, so that caches made before these options still match.
            b.append("quantized-ops ").append(options.portable() ? "portable" : "matmul-nbits").append(' ')
                    .append(options.accuracyLevel()).append('\n');
        }
        if (options.adapter() != null) {
            // Only named with an adapter, so that the keys of exports without one stay as they were.
            b.append("adapter ").append(FileDigest.sha256(options.adapter().config().file(), digestCache).sha256())
                    .append(' ').append(FileDigest.sha256(options.adapter().weights().path(), digestCache).sha256())
                    .append('\n');
        }
        if (options.linearInputs()) {
            // Only named when asked, so that the keys of ordinary exports stay as they were.
            b.append("linear-inputs\n");
        }
        b.append("source-format ").append(in.format()).append('\n');
        for (Path data : in.dataFiles()) {
            FileDigest.Digest digest = FileDigest.sha256(data, digestCache);
            b.append("data ").append(digest.sha256()).append(' ').append(digest.bytes()).append('\n');
        }
        for (TensorInfo t : in.tensors()) {
            b.append("tensor ").append(t.name()).append(' ').append(t.dtype()).append(' ')
                    .append(Arrays.toString(t.shape())).append('\n');
        }
        b.append("config ").append(in.config().isPresent() ? Json.MAPPER.writeValueAsString(in.config().get()) : "none")
                .append('\n');
        for (AuxFile a : in.auxFiles()) {
            b.append("aux ").append(a.name()).append(' ').append(HexFormat.of().formatHex(sha256().digest(a.bytes())))
                    .append('\n');
        }
        return b.toString();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }
}
