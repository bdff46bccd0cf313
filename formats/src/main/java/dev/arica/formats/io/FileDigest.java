package dev.arica.formats.io;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * SHA-256 of a file, remembered in a cache directory under the file's identity (device, inode, size,
 * modification and change times, as git's index does), so converting the same source several times (one
 * run per scheme in a release pipeline) hashes it once. Any write to the file changes its ctime, which no
 * user can set back, so a stale digest is not served.
 */
public final class FileDigest {
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    /** A file's digest and size. */
    public record Digest(Path file, long bytes, String sha256, boolean cached) {}

    private FileDigest() {}

    /** The user's cache directory for arica: $ARICA_CACHE_DIR, else $XDG_CACHE_HOME/arica, else ~/.cache/arica. */
    public static Path defaultCacheDirectory() {
        String own = System.getenv("ARICA_CACHE_DIR");
        if (own != null && !own.isBlank()) {
            return Path.of(own);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("arica");
    }

    /**
     * The SHA-256 of {@code file}, from {@code cacheDir}'s sha256/ folder when the file is unchanged since it
     * was recorded; computed (and recorded) otherwise. {@code cacheDir} null: always computed, nothing stored.
     */
    public static Digest sha256(Path file, Path cacheDir) throws IOException {
        Optional<Path> entry = entryOf(file, cacheDir);
        Optional<Digest> known = read(file, entry);
        if (known.isPresent()) {
            return known.get();
        }
        Digest d = compute(file);
        if (entry.isPresent()) {
            try {
                Files.createDirectories(entry.get().getParent());
                AtomicOutput.writeString(entry.get(), d.sha256() + "\n");
            } catch (IOException e) {
                // The cache is an optimisation: a read-only or full cache directory only costs time.
            }
        }
        return d;
    }

    /** The digest {@code cacheDir} remembers for {@code file} as it is now; empty when it would have to be computed. */
    public static Optional<Digest> cached(Path file, Path cacheDir) throws IOException {
        return read(file, entryOf(file, cacheDir));
    }

    private static Optional<Path> entryOf(Path file, Path cacheDir) throws IOException {
        return cacheDir == null ? Optional.empty() : cacheEntry(file, cacheDir);
    }

    /** The digest recorded in the cache file {@code entry}, if there is a well-formed one. */
    private static Optional<Digest> read(Path file, Optional<Path> entry) throws IOException {
        if (entry.isPresent() && Files.isRegularFile(entry.get())) {
            String hex = Files.readString(entry.get(), StandardCharsets.US_ASCII).trim();
            if (HEX64.matcher(hex).matches()) {
                return Optional.of(new Digest(file, Files.size(file), hex, true));
            }
        }
        return Optional.empty();
    }

    static Digest compute(Path file) throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        long total = 0;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            int n;
            while ((n = ch.read(buf.clear())) >= 0) {
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedIOException("hashing " + file + " was cancelled");
                }
                sha.update(buf.array(), 0, n);
                total += n;
            }
        }
        return new Digest(file, total, HexFormat.of().formatHex(sha.digest()), false);
    }

    /** The cache file for the file's current identity; empty where the platform does not expose inodes. */
    private static Optional<Path> cacheEntry(Path file, Path cacheDir) throws IOException {
        Map<String, Object> a;
        try {
            a = Files.readAttributes(file, "unix:dev,ino,size,lastModifiedTime,ctime");
        } catch (UnsupportedOperationException | IllegalArgumentException e) {
            return Optional.empty();
        }
        String identity = file.toRealPath() + "\0" + a.get("dev") + "\0" + a.get("ino") + "\0" + a.get("size") + "\0"
                + nanos(a.get("lastModifiedTime")) + "\0" + nanos(a.get("ctime"));
        try {
            byte[] key = MessageDigest.getInstance("SHA-256").digest(identity.getBytes(StandardCharsets.UTF_8));
            return Optional.of(cacheDir.resolve("sha256").resolve(HexFormat.of().formatHex(key, 0, 20)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
    }

    private static long nanos(Object time) {
        FileTime t = (FileTime) time;
        return t.to(java.util.concurrent.TimeUnit.NANOSECONDS);
    }
}
