package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The workers yield to the hash only while a source is hashed for the first time. */
class SourceHasherTest {
    @TempDir
    Path tmp;

    @Test
    void workersYieldOnlyToAHashThatRuns() throws IOException {
        Path cache = tmp.resolve("cache");
        Path a = Files.writeString(tmp.resolve("a"), "abc");
        Path b = Files.writeString(tmp.resolve("b"), "abd");
        try (SourceHasher first = SourceHasher.start(List.of(a, b), cache)) {
            assertEquals(SourceHasher.WORKER_NICE_WHILE_HASHING, first.workerNice());
            assertEquals(2, first.digests().size());
        }
        try (SourceHasher again = SourceHasher.start(List.of(a, b), cache)) {
            assertEquals(0, again.workerNice(), "both digests cached");
        }
        Files.writeString(b, "abe");
        try (SourceHasher changed = SourceHasher.start(List.of(a, b), cache)) {
            assertEquals(SourceHasher.WORKER_NICE_WHILE_HASHING, changed.workerNice(), "one file changed");
        }
        try (SourceHasher uncached = SourceHasher.start(List.of(a), null)) {
            assertEquals(SourceHasher.WORKER_NICE_WHILE_HASHING, uncached.workerNice(), "no digest cache");
        }
    }
}
