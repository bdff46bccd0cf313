package dev.arica.runtime.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.Progress;
import dev.arica.formats.io.AtomicOutput;
import dev.arica.formats.testing.GptqFixtures;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.testdata.SyntheticLlama;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OnnxExportCacheTest {
    @TempDir
    static Path models;

    static Path hf;

    @TempDir
    Path root;

    @BeforeAll
    static void model() throws IOException {
        hf = models.resolve("tiny");
        SyntheticLlama.write(hf, SyntheticLlama.Preset.TINY.spec(), Long.MAX_VALUE, Progress.NONE);
    }

    static OnnxExportCache.Entry export(OnnxExportCache cache, Path model, String producer) throws IOException {
        try (Checkpoint c = Checkpoint.open(model)) {
            return cache.export(c, OnnxExporter.Options.defaults(), producer, Progress.NONE);
        }
    }

    static List<String> names(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void theSecondRunFindsTheExportAndACopyElsewhereToo() throws Exception {
        OnnxExportCache cache = OnnxExportCache.at(root);
        OnnxExportCache.Entry first = export(cache, hf, "arica test");
        assertTrue(first.exported());
        assertEquals(root.resolve("onnx").resolve(first.key()), first.directory());
        assertTrue(Files.isRegularFile(first.directory().resolve(OnnxExporter.GENAI_FILE)));
        assertEquals(40, first.key().length());
        OnnxExportCache.Entry again = export(cache, hf, "arica test");
        assertFalse(again.exported());
        assertEquals(first.directory(), again.directory());
        assertEquals(List.of(first.key()), names(root.resolve("onnx")), "one entry, no temporaries");
        assertFalse(names(root.resolve("sha256")).isEmpty(), "data file digests are cached by file identity");

        // Keyed by content: the same files elsewhere find the same export.
        Path copy = models.resolve("copy-" + System.nanoTime());
        Files.createDirectories(copy);
        for (String n : names(hf)) {
            Files.copy(hf.resolve(n), copy.resolve(n));
        }
        assertEquals(first.key(), export(cache, copy, "arica test").key());
        assertFalse(export(cache, copy, "arica test").exported());
    }

    @Test
    void whatTheExportDependsOnChangesTheKey() throws Exception {
        OnnxExportCache cache = OnnxExportCache.at(root);
        String base = export(cache, hf, "arica 1").key();
        assertNotEquals(base, export(cache, hf, "arica 2").key(), "another producer version");
        Path edited = models.resolve("edited-" + System.nanoTime());
        Files.createDirectories(edited);
        for (String n : names(hf)) {
            Files.copy(hf.resolve(n), edited.resolve(n));
        }
        Files.writeString(edited.resolve("generation_config.json"), "{\"bos_token_id\": 1, \"eos_token_id\": [2, 0]}\n");
        assertNotEquals(base, export(cache, edited, "arica 1").key(), "another side file");
        try (Checkpoint c = Checkpoint.open(hf)) {
            String f16 = cache.export(c, OnnxExporter.Options.defaults().withWeightType(dev.arica.formats.DType.F16),
                    "arica 1", Progress.NONE).key();
            assertNotEquals(base, f16, "other export options");
            assertTrue(OnnxExportCache.describe(c, OnnxExporter.Options.defaults(), "arica 1", root)
                    .contains("\ndata "), "the data files' digests are part of the key");
        }
    }

    /** The same GPTQ tensors decoded another way (v2 zero points) are another model: the description is in the key. */
    @Test
    void aGptqCheckpointsQuantizeConfigIsInTheKey() throws Exception {
        Path gptq = models.resolve("gptq");
        GptqFixtures.write(gptq, GptqFixtures.bundled().tensors(4, false), GptqFixtures.quantizeConfig(4, true, false,
                "gptq"), true);
        String v1;
        try (Checkpoint c = Checkpoint.open(gptq)) {
            v1 = OnnxExportCache.key(c, OnnxExporter.Options.defaults(), "arica 1", null);
        }
        Files.writeString(gptq.resolve("quantize_config.json"), GptqFixtures.quantizeConfig(4, true, false, "gptq_v2")
                .toString());
        try (Checkpoint c = Checkpoint.open(gptq)) {
            assertNotEquals(v1, OnnxExportCache.key(c, OnnxExporter.Options.defaults(), "arica 1", null));
        }
    }

    @Test
    void anInterruptedExportLeavesNoEntry() throws Exception {
        OnnxExportCache cache = OnnxExportCache.at(root);
        Progress failing = new Progress() {
            @Override
            public void start(String task, long totalBytes) {}

            @Override
            public void advance(long bytes) {
                throw new UncheckedIOException(new IOException("interrupted (test)"));
            }

            @Override
            public void finish() {}
        };
        try (Checkpoint c = Checkpoint.open(hf)) {
            assertThrows(UncheckedIOException.class, () -> cache.export(c, OnnxExporter.Options.defaults(), "arica t", failing));
        }
        assertEquals(List.of(), names(root.resolve("onnx")), "no entry and no temporary");
        assertTrue(export(cache, hf, "arica t").exported(), "the next run exports");
    }

    @Test
    void concurrentRunsShareOneEntry() throws Exception {
        OnnxExportCache cache = OnnxExportCache.at(root);
        int n = 3;
        CyclicBarrier start = new CyclicBarrier(n);
        ExecutorService pool = Executors.newFixedThreadPool(n);
        try {
            List<Future<OnnxExportCache.Entry>> runs = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                runs.add(pool.submit(() -> {
                    start.await();
                    return export(cache, hf, "arica c");
                }));
            }
            List<Path> dirs = new ArrayList<>();
            for (Future<OnnxExportCache.Entry> f : runs) {
                dirs.add(f.get().directory());
            }
            assertEquals(1, dirs.stream().distinct().count(), dirs.toString());
            assertTrue(Files.isRegularFile(dirs.getFirst().resolve("model.onnx")));
        } finally {
            pool.shutdownNow();
        }
        List<String> left = names(root.resolve("onnx"));
        assertEquals(1, left.size(), "one entry, every loser's temporary removed: " + left);
        assertFalse(left.getFirst().contains(AtomicOutput.TEMP_MARK));
    }

    @Test
    void withoutACacheTheExportIsTemporary() throws Exception {
        OnnxExportCache.Entry e = export(OnnxExportCache.none(), hf, "arica t");
        Path dir = e.directory();
        assertNull(e.key());
        assertTrue(e.exported());
        assertTrue(Files.isRegularFile(dir.resolve("model.onnx")));
        assertTrue(dir.getParent().getFileName().toString().contains(AtomicOutput.TEMP_MARK));
        e.close();
        assertFalse(Files.exists(dir.getParent()), "closing removes it");
    }
}
