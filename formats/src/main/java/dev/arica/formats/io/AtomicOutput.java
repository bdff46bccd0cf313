package dev.arica.formats.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * A file or directory written under a temporary name beside its destination and published, by one rename,
 * only when complete: the one place where arica publishes its outputs. Before the rename the output's
 * files and directory are flushed to the disk ({@code fsync}) and after it the directory holding the
 * destination, so that a crash after a command reports success cannot leave an empty or truncated file
 * under the destination name; {@link WriteBehind} starts that write-back while the output grows, so the
 * final flush waits for the tail only. Closing without {@link #commit()} deletes the temporary; so does a JVM
 * shutdown (Ctrl-C, SIGTERM) in the middle of a write. A SIGKILL can leave the hidden temporary behind,
 * never a partial file under the destination name; the next output to the same destination removes the
 * temporaries of processes that no longer run.
 *
 * <p>Writers open the files of an output with {@link #create(Path)} (or write small ones with
 * {@link #write(Path, byte[])}), the seam through which tests make the disk fail, and pass an
 * {@link IOException} of a write through {@link #explain(Path, IOException)}, which turns "no space left
 * on device" into an {@link OutOfSpaceException} naming the destination and the bytes it needed.
 */
public final class AtomicOutput implements AutoCloseable {

    /** Prefix of temporaries, so users (and tests) can recognise leftovers of a killed run. */
    public static final String TEMP_MARK = ".arica-tmp-";

    /**
     * System property that, set to {@code false}, skips the flushes to disk; only for measuring what
     * they cost (docs/BENCHMARKS.md), never for real outputs.
     */
    public static final String FSYNC_PROPERTY = "arica.fsync";

    /** Opens a new output file for writing; tests replace it to make the disk fail. */
    @FunctionalInterface
    interface Opener {
        FileChannel open(Path file) throws IOException;
    }

    static final Opener DEFAULT_OPENER = file -> FileChannel.open(file, StandardOpenOption.CREATE_NEW,
            StandardOpenOption.WRITE);

    /** The seam every output file is opened through (see {@code FullDisk} in the tests). */
    static volatile Opener opener = DEFAULT_OPENER;

    private final Path destination;
    private final Path temp;
    private final boolean directory;
    private final boolean replace;
    private boolean done;

    private AtomicOutput(Path destination, boolean directory, boolean replace) throws IOException {
        this.destination = destination.toAbsolutePath().normalize();
        this.directory = directory;
        this.replace = replace;
        Path parent = this.destination.getParent();
        if (parent != null) {
            createParent(parent);
            removeStale(this.destination);
        }
        String name = "." + this.destination.getFileName() + TEMP_MARK + ProcessHandle.current().pid() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
        this.temp = this.destination.resolveSibling(name);
        Cleanup.PENDING.put(temp, new Pending(this.destination, -1));
        if (directory) {
            try {
                Files.createDirectory(temp);
            } catch (IOException e) {
                Cleanup.PENDING.remove(temp);
                throw explain(temp, e);
            }
        }
    }

    /** Output to a single file; an existing file at {@code destination} is replaced on commit. */
    public static AtomicOutput file(Path destination) throws IOException {
        if (Files.isDirectory(destination)) {
            throw new FileAlreadyExistsException(destination.toString(), null, "is a directory");
        }
        return new AtomicOutput(destination, false, true);
    }

    /**
     * Output to a directory. An existing non-empty directory is refused unless {@code replace}; then it
     * is swapped out on commit. Without {@code replace}, a directory another run filled in the meantime
     * is refused on commit too, with a {@link DirectoryNotEmptyException}, and left as it is.
     */
    public static AtomicOutput directory(Path destination, boolean replace) throws IOException {
        if (Files.exists(destination)) {
            if (!Files.isDirectory(destination)) {
                throw new FileAlreadyExistsException(destination.toString(), null, "exists and is not a directory");
            }
            if (!replace && !isEmptyDirectory(destination)) {
                throw new DirectoryNotEmptyException(destination.toString());
            }
        }
        return new AtomicOutput(destination, true, replace);
    }

    /** Writes a small text file atomically (reports, sidecars). */
    public static void writeString(Path destination, String content) throws IOException {
        try (AtomicOutput out = file(destination)) {
            write(out.temp(), content.getBytes(StandardCharsets.UTF_8));
            out.commit();
        }
    }

    /** Opens {@code file}, which must not exist, for writing: how writers open the files of an output. */
    public static FileChannel create(Path file) throws IOException {
        FileChannel ch;
        try {
            ch = opener.open(file);
        } catch (IOException e) {
            throw explain(file, e);
        }
        if (fsync()) {
            WriteBehind.watch(file, ch);
        }
        return ch;
    }

    /** Writes a small new file (a config, an index) through {@link #create(Path)}. */
    public static void write(Path file, byte[] content) throws IOException {
        try (FileChannel ch = create(file)) {
            TensorSequence.writeFully(ch, ByteBuffer.wrap(content));
        } catch (IOException e) {
            throw explain(file, e);
        }
    }

    /** Copies {@code source} into the new file {@code file} through {@link #create(Path)}. */
    public static void copy(Path source, Path file) throws IOException {
        try (FileChannel in = FileChannel.open(source, StandardOpenOption.READ); FileChannel out = create(file)) {
            long size = in.size();
            for (long done = 0; done < size; ) {
                long n = in.transferTo(done, size - done, out);
                if (n <= 0 && done >= in.size()) {
                    throw new IOException(source + " became shorter while it was copied");
                }
                done += Math.max(n, 0);
            }
        } catch (IOException e) {
            throw explain(file, e);
        }
    }

    /**
     * Refuses (in one line) an output that would replace or remove its input while it is read: the input
     * itself, one of its {@code files} (an HF directory's shards), or a directory that holds either.
     */
    public static void refuseOverInput(Path output, Path input, List<Path> files) {
        Path out = real(output);
        Path in = real(input);
        if (out.equals(in)) {
            throw new IllegalArgumentException("output " + output + " is the input; write to another path");
        }
        if (in.startsWith(out)) {
            throw new IllegalArgumentException("output " + output + " holds the input " + input + "; write to another path");
        }
        for (Path f : files) {
            Path file = real(f);
            if (file.startsWith(out)) {
                throw new IllegalArgumentException("output " + output + (file.equals(out) ? " is " : " holds ")
                        + "the input's file " + f + "; write to another path");
            }
        }
    }

    /** The path with its existing part resolved (links, "..", "."), so that two names of one file compare equal. */
    private static Path real(Path p) {
        Path abs = p.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null) {
            return abs;
        }
        try {
            return existing.toRealPath().resolve(existing.relativize(abs).toString()).normalize();
        } catch (IOException e) {
            return abs;
        }
    }

    /** Where to write. */
    public Path temp() {
        return temp;
    }

    public Path destination() {
        return destination;
    }

    /** Declares how many bytes the output will hold, so that a full disk can be told how many it needed. */
    public void expect(long bytes) {
        Cleanup.PENDING.computeIfPresent(temp, (t, p) -> new Pending(p.destination(), bytes));
    }

    /**
     * {@code e} as an {@link OutOfSpaceException} when it says the disk (or quota) is full, naming where
     * {@code file} (a temporary, or a file inside a temporary directory) is published, how many bytes the
     * output holds and how many it needs; otherwise {@code e} itself.
     */
    public static IOException explain(Path file, IOException e) {
        if (e instanceof OutOfSpaceException || !OutOfSpaceException.isOutOfSpace(e)) {
            return e;
        }
        Path f = file.toAbsolutePath().normalize();
        for (Map.Entry<Path, Pending> p : Cleanup.PENDING.entrySet()) {
            if (f.startsWith(p.getKey())) {
                Path shown = p.getValue().destination().resolve(p.getKey().relativize(f).toString());
                return new OutOfSpaceException(shown.normalize(), sizeQuietly(p.getKey()), p.getValue().expected(), e);
            }
        }
        return new OutOfSpaceException(f, sizeQuietly(f), -1, e);
    }

    /** Flushes the temporary to disk and renames it onto the destination. */
    public void commit() throws IOException {
        if (done) {
            throw new IllegalStateException("already committed or aborted: " + destination);
        }
        try {
            if (fsync()) {
                syncTree(temp);
            }
        } catch (IOException e) {
            throw explain(temp, e);
        }
        if (directory && Files.exists(destination, LinkOption.NOFOLLOW_LINKS)) {
            if (!replace) {
                if (!isEmptyDirectory(destination)) {
                    throw new DirectoryNotEmptyException(destination.toString());
                }
                publish(temp, destination);
            } else if (RenameExchange.swap(temp, destination)) {
                // One step: the destination is never absent; the old output now lies under the temporary's name.
                deleteRecursively(temp);
            } else {
                Path old = destination.resolveSibling("." + destination.getFileName() + TEMP_MARK
                        + ProcessHandle.current().pid() + "-old");
                Cleanup.PENDING.put(old, new Pending(destination, -1));
                move(destination, old, true);
                move(temp, destination, true);
                deleteRecursively(old);
                Cleanup.PENDING.remove(old);
            }
        } else {
            publish(temp, destination);
        }
        done = true;
        Cleanup.PENDING.remove(temp);
        if (fsync()) {
            syncDirectory(destination.getParent());
        }
    }

    /** Deletes the temporary unless committed. */
    @Override
    public void close() throws IOException {
        if (!done) {
            done = true;
            try {
                deleteRecursively(temp);
            } finally {
                Cleanup.PENDING.remove(temp);
            }
        }
    }

    /** Renames a file over any old one, a directory only onto nothing or an empty directory. */
    private void publish(Path from, Path to) throws IOException {
        try {
            move(from, to, !directory);
        } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
            throw new DirectoryNotEmptyException(to.toString());
        } catch (FileSystemException e) {
            // rename(2) onto a non-empty directory: another run published it first.
            if (directory && Files.isDirectory(to) && !isEmptyDirectory(to)) {
                throw new DirectoryNotEmptyException(to.toString());
            }
            throw e;
        }
    }

    private static void move(Path from, Path to, boolean overwrite) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            if (overwrite) {
                Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.move(from, to);
            }
        }
    }

    private static boolean fsync() {
        return !"false".equalsIgnoreCase(System.getProperty(FSYNC_PROPERTY));
    }

    /** fsync of every file under {@code root} (or of {@code root} itself), then of the directories, deepest first. */
    private static void syncTree(Path root) throws IOException {
        if (!Files.isDirectory(root, LinkOption.NOFOLLOW_LINKS)) {
            syncFile(root);
            return;
        }
        List<Path> all;
        try (Stream<Path> s = Files.walk(root)) {
            all = s.sorted(Comparator.reverseOrder()).toList();
        }
        for (Path p : all) {
            if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                syncFile(p);
            }
        }
        for (Path p : all) {
            if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                syncDirectory(p);
            }
        }
    }

    private static void syncFile(Path file) throws IOException {
        WriteBehind.check(file);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    /** fsync of a directory's entries; only where a directory can be opened (Linux, macOS), else skipped. */
    private static void syncDirectory(Path dir) throws IOException {
        if (dir == null) {
            return;
        }
        FileChannel ch;
        try {
            ch = FileChannel.open(dir, StandardOpenOption.READ);
        } catch (IOException e) {
            // Windows opens no directory as a file; its renames are durable by the file system's journal.
            return;
        }
        try (ch) {
            ch.force(true);
        }
    }

    /** Creates the destination's directory; one line naming the file in the way when there is one. */
    private static void createParent(Path parent) throws IOException {
        Path existing = parent;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing != null && !Files.isDirectory(existing)) {
            throw new FileAlreadyExistsException(existing.toString(), null, "is a file, not a directory");
        }
        Files.createDirectories(parent);
    }

    /**
     * Removes the temporaries of {@code destination} left by killed runs: the ones whose process id names
     * no running process.
     */
    private static void removeStale(Path destination) {
        String prefix = "." + destination.getFileName() + TEMP_MARK;
        try (Stream<Path> s = Files.list(destination.getParent())) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(prefix)).toList()) {
                Optional<Long> pid = pidOf(p.getFileName().toString().substring(prefix.length()));
                if (pid.isPresent() && ProcessHandle.of(pid.get()).isEmpty()) {
                    deleteRecursively(p);
                }
            }
        } catch (IOException | UncheckedIOException e) {
            // Best effort: a leftover that cannot be listed or removed hides nothing, its name is unique.
        }
    }

    private static Optional<Long> pidOf(String rest) {
        int dash = rest.indexOf('-');
        try {
            return Optional.of(Long.parseLong(dash < 0 ? rest : rest.substring(0, dash)));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    private static boolean isEmptyDirectory(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    /** Bytes of a file, or of the files under a directory; what could not be read counts as 0. */
    private static long sizeQuietly(Path p) {
        try (Stream<Path> s = Files.walk(p)) {
            return s.mapToLong(q -> {
                try {
                    return Files.isRegularFile(q, LinkOption.NOFOLLOW_LINKS) ? Files.size(q) : 0;
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        } catch (IOException | UncheckedIOException e) {
            return 0;
        }
    }

    /**
     * A new scratch directory under {@code parent} (a name starting with {@code prefix}) that the same shutdown hook as
     * the temporaries removes if the JVM ends before {@link #deleteScratch} (a signal): work files, never an output.
     */
    public static Path scratchDirectory(Path parent, String prefix) throws IOException {
        Path dir = Files.createTempDirectory(parent, prefix).toAbsolutePath().normalize();
        Cleanup.PENDING.put(dir, new Pending(dir, -1));
        return dir;
    }

    /** Deletes a directory made by {@link #scratchDirectory} and its files. */
    public static void deleteScratch(Path dir) throws IOException {
        Path d = dir.toAbsolutePath().normalize();
        deleteRecursively(d);
        Cleanup.PENDING.remove(d);
    }

    /** Deletes {@code p}, a file or a directory tree, without following links; nothing when it is absent. */
    public static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(q);
                }
            } catch (NoSuchFileException gone) {
                // removed meanwhile (the shutdown hook and a closing writer)
            }
        } else {
            Files.deleteIfExists(p);
        }
    }

    /** A temporary in flight: where it is published and how many bytes it will hold (-1: unknown). */
    private record Pending(Path destination, long expected) {}

    /** Temporaries in flight, removed by one shutdown hook registered when the class is first used. */
    private static final class Cleanup {
        static final Map<Path, Pending> PENDING = new ConcurrentHashMap<>();

        static {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                for (Path p : PENDING.keySet()) {
                    // A writer thread may still add a file while the directory is deleted: try again.
                    for (int attempt = 0; attempt < 5 && Files.exists(p, LinkOption.NOFOLLOW_LINKS); attempt++) {
                        try {
                            deleteRecursively(p);
                        } catch (IOException | UncheckedIOException ignored) {
                            Thread.onSpinWait();
                        }
                    }
                }
            }, "arica-temp-cleanup"));
        }
    }
}
