package dev.arica.formats;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.io.FileDigest;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileDigestTest {

    @TempDir
    Path tmp;

    /** SHA-256 test vector (FIPS 180-2, "abc"). */
    private static final String ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

    @Test
    void knownVectorWithoutCache() throws IOException {
        Path f = Files.writeString(tmp.resolve("abc"), "abc");
        FileDigest.Digest d = FileDigest.sha256(f, null);
        assertEquals(ABC, d.sha256());
        assertEquals(3, d.bytes());
        assertFalse(d.cached());
        assertFalse(FileDigest.sha256(f, null).cached(), "no cache directory, nothing remembered");
        Path empty = Files.write(tmp.resolve("empty"), new byte[0]);
        assertEquals("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", FileDigest.sha256(empty, null).sha256());
    }

    @Test
    void cachedUntilTheFileChanges() throws IOException {
        Path cache = tmp.resolve("cache");
        Path f = Files.writeString(tmp.resolve("abc"), "abc");
        assertFalse(FileDigest.sha256(f, cache).cached());
        FileDigest.Digest again = FileDigest.sha256(f, cache);
        assertTrue(again.cached());
        assertEquals(ABC, again.sha256());
        // Same size, same modification time set back: the change time still moves, so the digest is recomputed.
        FileTime mtime = Files.getLastModifiedTime(f);
        Files.writeString(f, "abd", StandardCharsets.US_ASCII);
        Files.setLastModifiedTime(f, mtime);
        FileDigest.Digest changed = FileDigest.sha256(f, cache);
        assertFalse(changed.cached());
        assertEquals(FileDigest.sha256(f, null).sha256(), changed.sha256());
        assertFalse(ABC.equals(changed.sha256()));
    }

    @Test
    void cachedSaysWhetherAHashIsDue() throws IOException {
        Path cache = tmp.resolve("cache");
        Path f = Files.writeString(tmp.resolve("abc"), "abc");
        assertTrue(FileDigest.cached(f, cache).isEmpty(), "never hashed");
        assertTrue(FileDigest.cached(f, null).isEmpty(), "no cache directory");
        FileDigest.sha256(f, cache);
        assertEquals(ABC, FileDigest.cached(f, cache).orElseThrow().sha256());
        Files.writeString(f, "abd", StandardCharsets.US_ASCII);
        assertTrue(FileDigest.cached(f, cache).isEmpty(), "changed since");
    }

    @Test
    void aCorruptCacheEntryIsIgnored() throws IOException {
        Path cache = tmp.resolve("cache");
        Path f = Files.writeString(tmp.resolve("abc"), "abc");
        FileDigest.sha256(f, cache);
        try (var s = Files.list(cache.resolve("sha256"))) {
            for (Path entry : s.toList()) {
                Files.writeString(entry, "not a digest");
            }
        }
        FileDigest.Digest d = FileDigest.sha256(f, cache);
        assertFalse(d.cached());
        assertEquals(ABC, d.sha256());
    }
}
