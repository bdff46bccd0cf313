package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertNoTemporaries;
import static dev.arica.cli.CliTesting.names;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static dev.arica.cli.CliTesting.treeDigest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.io.FullDisk;
import dev.arica.formats.testing.ReferenceModel;
import dev.arica.formats.testing.Stories260K;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every command that writes, on a disk that fills up (an injected write failure through the channel seam of
 * {@code AtomicOutput}, so that it runs on any machine without root): nothing free, half of what the output
 * needs, one byte short. Each fails with exit 2 and one line naming the destination and "no space left on
 * device", leaves no temporary and leaves the previous output byte for byte.
 */
class DiskFullTest {

    @TempDir
    static Path shared;

    static Path hf;
    static Path onnx;

    @TempDir
    Path tmp;

    @BeforeAll
    static void inputs() {
        CliTesting.Stories s = CliTesting.storiesHfAndOnnx(shared);
        hf = s.hf();
        onnx = s.onnx();
    }

    /** A command writing {@code name} (a file when it has an extension, else a directory) in a directory. */
    record Case(String name, Function<Path, List<String>> args) {
        @Override
        public String toString() {
            return String.join(" ", args.apply(Path.of(name)));
        }

        String[] argv(Path destination) {
            return args.apply(destination).toArray(String[]::new);
        }
    }

    static Stream<Case> commands() {
        return Stream.of(
                new Case("m.safetensors", d -> List.of("convert", hf.toString(), "-o", d.toString(), "--dtype", "f16")),
                new Case("sharded", d -> List.of("convert", hf.toString(), "-o", d.toString(), "--dtype", "f16",
                        "--max-shard-size", "300kB", "--force")),
                new Case("m.arica", d -> List.of("quantize", hf.toString(), "-o", d.toString(), "--scheme", "q8_0",
                        "--compress", "--no-digest-cache")),
                new Case("q.onnx", d -> List.of("quantize", onnx.resolve("model.onnx").toString(), "-o", d.toString(),
                        "--scheme", "int8", "--external-data", "--quantize-embeddings")),
                new Case("exported", d -> List.of("export-onnx", hf.toString(), "-o", d.toString(), "--force")),
                new Case("m.gguf", d -> List.of("export-gguf", hf.toString(), "-o", d.toString(), "--type", "f32")),
                new Case("upscaled", d -> List.of("upscale", hf.toString(), "-o", d.toString(), "--drop", "1", "--force")),
                new Case("merged", d -> List.of("merge-lora", new ReferenceModel("tiny-gemma2").dir().toString(),
                        new ReferenceModel("tiny-gemma2-lora").dir().toString(), "-o", d.toString(), "--force")),
                new Case("logits.npy", d -> List.of("forward", onnx.toString(), "--ids", "1,403,407", "-o", d.toString(),
                        "--threads", "1", "--device", "cpu")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("commands")
    void aFullDiskFailsInOneLineAndKeepsThePreviousOutput(Case c) throws Exception {
        long needs;
        try (FullDisk room = FullDisk.withFree(Long.MAX_VALUE)) {
            // A directory name as long as the faulty run's: outputs may record their own path.
            succeeds(c.argv(tmp.resolve("sizing").resolve(c.name())));
            needs = room.used();
        }
        Path dir = tmp.resolve("faulty");
        Path dest = dir.resolve(c.name());
        Files.createDirectories(dir);
        if (c.name().contains(".")) {
            Files.writeString(dest, "the previous output");
        } else {
            Files.createDirectories(dest);
            Files.writeString(dest.resolve("previous.txt"), "the previous output");
        }
        List<String> before = treeDigest(dir);
        for (long free : new long[] {0, needs / 2, needs - 1}) {
            CliTesting.Run r;
            try (FullDisk disk = FullDisk.withFree(free)) {
                r = run(c.argv(dest));
            }
            assertEquals(ExitCode.BAD_INPUT, r.exit(), () -> free + " of the " + needs + " bytes needed free\n" + r);
            assertFullDisk(r, dest);
            assertEquals(before, treeDigest(dir), () -> free + " of " + needs + " bytes free: the previous output, "
                    + "nothing else\n" + r);
        }
    }

    /**
     * The export cache of {@code generate} on a full disk: no entry, no temporary, exit 2 naming the cache;
     * once exported, a full disk no longer matters, the entry is read as it is.
     */
    @Test
    void generateOnAFullDiskLeavesNoCacheEntry() throws Exception {
        Path cache = tmp.resolve("cache");
        String[] args = generate(cache);
        long measured;
        try (FullDisk room = FullDisk.withFree(Long.MAX_VALUE)) {
            // A cache path as long as the faulty run's: the export records where it is.
            succeeds(generate(tmp.resolve("cachx")));
            measured = room.used();
        }
        // The source's digests, recorded by the first run that hashes it, are in place: the export alone is measured.
        List<Path> digests;
        try (Stream<Path> walk = Files.walk(tmp.resolve("cachx").resolve("sha256"))) {
            digests = walk.filter(Files::isRegularFile).toList();
        }
        assertTrue(!digests.isEmpty(), "generate records the source's digest");
        long digestBytes = 0;
        for (Path digest : digests) {
            Path to = cache.resolve("sha256").resolve(tmp.resolve("cachx").resolve("sha256").relativize(digest).toString());
            Files.createDirectories(to.getParent());
            Files.copy(digest, to);
            digestBytes += Files.size(digest);
        }
        long needs = measured - digestBytes;
        for (long free : new long[] {0, needs / 2, needs - 1}) {
            CliTesting.Run r;
            try (FullDisk disk = FullDisk.withFree(free)) {
                r = run(args);
            }
            assertEquals(ExitCode.BAD_INPUT, r.exit(), () -> free + " of the " + needs + " bytes needed free\n" + r);
            assertFullDisk(r, cache);
            Path entries = cache.resolve("onnx");
            if (Files.isDirectory(entries)) {
                assertEquals(List.of(), names(entries), "no entry, whole or partial");
                assertNoTemporaries(entries);
            }
        }
        String text = succeeds(args).out();
        try (FullDisk full = FullDisk.withFree(0)) {
            assertEquals(text, succeeds(args).out(), "the cached entry generates on a full disk");
        }
    }

    /**
     * Exit 2, nothing on stdout, and the last line of stderr (forward and generate name their device first)
     * the one line of the failure: the destination, a full disk, no stack trace.
     */
    private static void assertFullDisk(CliTesting.Run r, Path destination) {
        assertEquals("", r.out(), r::toString);
        List<String> lines = r.err().lines().toList();
        String last = lines.getLast();
        assertTrue(last.startsWith("arica: " + destination) && last.contains(": no space left on device"), r::toString);
        assertTrue(lines.stream().noneMatch(l -> l.contains("Exception") || l.startsWith("\tat ")), r::toString);
        assertTrue(lines.subList(0, lines.size() - 1).stream().allMatch(l -> l.startsWith("arica: device ")), r::toString);
    }

    /** A run that succeeded; forward and generate report their device and speed on stderr. */
    private static CliTesting.Run succeeds(String... args) {
        CliTesting.Run r = run(args);
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        return r;
    }

    private static String[] generate(Path cache) {
        return new String[] {"generate", Stories260K.checkpoint().toString(), "--cache-dir", cache.toString(), "--prompt",
            "Once upon a time", "--max-new-tokens", "4", "--temperature", "0", "--threads", "1", "--device", "cpu"};
    }
}
