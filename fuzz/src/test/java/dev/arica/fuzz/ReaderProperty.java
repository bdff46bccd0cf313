package dev.arica.fuzz;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.io.AtomicOutput;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * The property every reader keeps on any input: it returns a result that passes its own validation, or it throws
 * {@link FormatException} with a one-line message (or {@link NoSuchFileException} for a sibling the input names inside
 * its own directory); never another exception or error, never longer than {@link #MAX_PER_INPUT} (CPU), never a file opened
 * outside the input's directory. Each fuzz input is written into a fresh directory beside fixed sibling files.
 */
final class ReaderProperty {

    /** How long CI (bin/test) fuzzes each target; bench/fuzz.sh runs them long. */
    static final String CI_DURATION = "5s";

    /**
     * Bound on one input's CPU time: a loop that does not end spends CPU, while a JVM starved by a loaded machine
     * (the fuzz runs share 2 cores under {@code nice}) only loses wall time, which is bounded far more loosely.
     */
    static final Duration MAX_PER_INPUT = Duration.ofSeconds(Long.getLong("arica.fuzz.inputSeconds", 30));
    /** Bound on one input's wall time: a reader blocked on something, not computing. */
    static final Duration MAX_WALL_PER_INPUT = MAX_PER_INPUT.multipliedBy(10);

    private static final ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();

    /** What a target does with the directory holding its input: open the reader and validate what it returns. */
    @FunctionalInterface
    interface Read {
        void run(Path dir) throws IOException;
    }

    private final Path dir;
    private boolean hooksProven;
    private boolean warm;

    private ReaderProperty(Path dir) {
        this.dir = dir;
    }

    /** Opens a file outside the case directory and fails unless the hooks saw it: the directory check is never vacuous. */
    private void proveHooks() throws IOException {
        Path probe = Files.write(dir.resolveSibling("outside"), new byte[1]);
        FileAccessHooks.start();
        try (FileChannel ch = FileChannel.open(probe, StandardOpenOption.READ)) {
            ch.size();
        } finally {
            if (!FileAccessHooks.stop().contains(probe)) {
                throw new IllegalStateException("the file-access hooks are not active (jazzer.custom_hooks)");
            }
        }
        hooksProven = true;
    }

    /**
     * A case directory holding the fixed files the fuzzed file may refer to: those under {@code siblings/<target>/} in
     * the test resources (written by {@link SeedCorpus}) and {@code bundled} (name to a file of testdata/models).
     */
    static ReaderProperty withSiblings(String target, Map<String, Path> bundled) {
        try {
            Path root = Files.createTempDirectory("arica-fuzz");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(root)));
            Path dir = Files.createDirectory(root.resolve("input"));
            URL resource = ReaderProperty.class.getResource("siblings/" + target);
            if (resource != null) {
                try (Stream<Path> files = Files.list(Path.of(resource.toURI()))) {
                    for (Path f : files.toList()) {
                        Files.copy(f, dir.resolve(f.getFileName().toString()));
                    }
                }
            }
            for (Map.Entry<String, Path> e : bundled.entrySet()) {
                Files.copy(e.getValue(), dir.resolve(e.getKey()));
            }
            return new ReaderProperty(dir);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static ReaderProperty alone() {
        return withSiblings("none", Map.of());
    }

    /** Writes {@code data} as {@code name} into the case directory and checks the property on {@code read}. */
    void check(String name, byte[] data, Read read) throws IOException {
        if (!hooksProven) {
            proveHooks();
        }
        Files.write(dir.resolve(name), data);
        long start = System.nanoTime();
        long cpuStart = THREADS.getCurrentThreadCpuTime();
        FileAccessHooks.start();
        List<Path> accessed;
        try {
            read.run(dir);
        } catch (FormatException e) {
            String m = e.getMessage();
            if (m.isBlank() || m.indexOf('\n') >= 0 || m.indexOf('\r') >= 0) {
                throw new AssertionError("the message is not one line: '" + m + "'", e);
            }
        } catch (NoSuchFileException e) {
            if (!inside(Path.of(e.getFile()))) {
                throw new AssertionError("looked for a file outside the input's directory: " + e.getFile(), e);
            }
        } finally {
            accessed = FileAccessHooks.stop();
        }
        Duration cpu = Duration.ofNanos(THREADS.getCurrentThreadCpuTime() - cpuStart);
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        for (Path p : accessed) {
            if (!inside(p)) {
                throw new AssertionError("opened " + p + ", outside the input's directory " + dir);
            }
        }
        // The first input of a JVM pays for loading and instrumenting every class the reader touches: not bounded.
        boolean first = !warm;
        warm = true;
        if (!first && (cpu.compareTo(MAX_PER_INPUT) > 0 || took.compareTo(MAX_WALL_PER_INPUT) > 0)) {
            throw new AssertionError("one input took " + cpu.toMillis() + " ms of CPU and " + took.toMillis()
                    + " ms of wall time, over the bounds of " + MAX_PER_INPUT + " and " + MAX_WALL_PER_INPUT);
        }
    }

    /**
     * Reads every seed of {@code target}'s corpus that {@link SeedCorpus} wrote ({@code seed-*}; the kept findings are
     * {@code crash-*}) and lets any exception through: the fuzzers start from valid files, not from refused ones.
     */
    void seedsRead(Class<?> target, String method, String name, Read read) throws IOException {
        URL corpus = target.getResource(target.getSimpleName() + "Inputs/" + method);
        if (corpus == null) {
            throw new AssertionError("no seed corpus for " + target.getSimpleName() + "." + method);
        }
        List<Path> seeds;
        try (Stream<Path> files = Files.list(Path.of(corpus.toURI()))) {
            seeds = files.filter(f -> f.getFileName().toString().startsWith("seed-")).sorted().toList();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        if (seeds.isEmpty()) {
            throw new AssertionError("no seed-* file in " + corpus);
        }
        for (Path seed : seeds) {
            Files.copy(seed, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
            try {
                read.run(dir);
            } catch (IOException | RuntimeException e) {
                throw new AssertionError(seed.getFileName() + " is not read as a valid file: " + e.getMessage(), e);
            }
        }
    }

    private boolean inside(Path p) {
        return p.toAbsolutePath().normalize().startsWith(dir);
    }

    /** Validation of any checkpoint a reader returns: every figure computable, every tensor's bytes readable. */
    static void validate(Checkpoint c) throws IOException {
        c.parameterCount();
        c.dataBytes();
        c.metadata();
        c.config();
        c.auxFiles();
        c.dataFiles();
        for (TensorInfo info : c.tensors()) {
            try (Arena arena = Arena.ofConfined()) {
                readAll(c.tensor(info.name(), arena), info);
            }
        }
    }

    /** Touches the first and last byte of every part and checks that the parts add up to the tensor's size. */
    static void readAll(Tensor t, TensorInfo info) {
        long total = 0;
        for (MemorySegment part : t.parts()) {
            if (part.byteSize() > 0) {
                part.get(ValueLayout.JAVA_BYTE, 0);
                part.get(ValueLayout.JAVA_BYTE, part.byteSize() - 1);
            }
            total += part.byteSize();
        }
        if (total != info.byteSize()) {
            throw new AssertionError(info + ": " + total + " bytes read, " + info.byteSize() + " expected");
        }
    }

    private static void deleteTree(Path root) {
        try {
            AtomicOutput.deleteRecursively(root);
        } catch (IOException e) {
            // best effort at exit: the directory is under java.io.tmpdir
        }
    }
}
