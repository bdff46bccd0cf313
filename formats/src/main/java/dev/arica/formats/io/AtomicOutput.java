package dev.arica.formats.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * A file or directory written under a temporary name beside its destination and renamed onto it only
 * when complete. Closing without {@link #commit()} deletes the temporary; so does a JVM shutdown
 * (Ctrl-C, SIGTERM) in the middle of a write. A SIGKILL can leave the hidden temporary behind, never a
 * partial file under the destination name.
 */
public final class AtomicOutput implements AutoCloseable {

    /** Prefix of temporaries, so users (and tests) can recognise leftovers of a killed run. */
    public static final String TEMP_MARK = ".arica-tmp-";

    private final Path destination;
    private final Path temp;
    private final boolean directory;
    private boolean done;

    private AtomicOutput(Path destination, boolean directory) throws IOException {
        this.destination = destination.toAbsolutePath().normalize();
        this.directory = directory;
        Path parent = this.destination.getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        String name = "." + this.destination.getFileName() + TEMP_MARK + ProcessHandle.current().pid() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16);
        this.temp = this.destination.resolveSibling(name);
        Cleanup.PENDING.add(temp);
        if (directory) {
            Files.createDirectory(temp);
        }
    }

    /** Output to a single file; an existing file at {@code destination} is replaced on commit. */
    public static AtomicOutput file(Path destination) throws IOException {
        if (Files.isDirectory(destination)) {
            throw new FileAlreadyExistsException(destination.toString(), null, "is a directory");
        }
        return new AtomicOutput(destination, false);
    }

    /**
     * Output to a directory. An existing non-empty directory is refused unless {@code replace}; then it
     * is swapped out on commit.
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
        return new AtomicOutput(destination, true);
    }

    /** Where to write. */
    /** Writes a small text file atomically (reports, sidecars). */
    public static void writeString(Path destination, String content) throws IOException {
        try (AtomicOutput out = file(destination)) {
            java.nio.file.Files.writeString(out.temp(), content, java.nio.charset.StandardCharsets.UTF_8);
            out.commit();
        }
    }

    public Path temp() {
        return temp;
    }

    public Path destination() {
        return destination;
    }

    /** Renames the temporary onto the destination. */
    public void commit() throws IOException {
        if (done) {
            throw new IllegalStateException("already committed or aborted: " + destination);
        }
        if (directory && Files.exists(destination)) {
            Path old = destination.resolveSibling("." + destination.getFileName() + TEMP_MARK + "old-"
                    + ProcessHandle.current().pid());
            Cleanup.PENDING.add(old);
            move(destination, old);
            move(temp, destination);
            deleteRecursively(old);
            Cleanup.PENDING.remove(old);
        } else {
            move(temp, destination);
        }
        done = true;
        Cleanup.PENDING.remove(temp);
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

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static boolean isEmptyDirectory(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            try (Stream<Path> s = Files.walk(p)) {
                for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(q);
                }
            }
        } else {
            Files.deleteIfExists(p);
        }
    }

    /** Temporaries in flight, removed by one shutdown hook registered when the class is first used. */
    private static final class Cleanup {
        static final Set<Path> PENDING = ConcurrentHashMap.newKeySet();

        static {
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                for (Path p : PENDING) {
                    // A writer thread may still add a file while the directory is deleted: try again.
                    for (int attempt = 0; attempt < 5 && Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS); attempt++) {
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
