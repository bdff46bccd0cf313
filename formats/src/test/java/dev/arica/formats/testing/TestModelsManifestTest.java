package dev.arica.formats.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** testdata/models agrees with its manifest, and the check catches a changed, missing or unlisted file. */
class TestModelsManifestTest {

    @Test
    void bundledModelsMatchTheirManifest() throws IOException {
        List<String> problems = Manifest.read(TestModels.root()).problems();
        assertTrue(problems.isEmpty(), () -> "testdata/models differs from its MANIFEST.json:\n  " + String.join("\n  ", problems));
    }

    @Test
    void everyReferenceModelIsBundled() throws IOException {
        Set<String> models = Manifest.read(TestModels.root()).entries().keySet().stream()
                .map(p -> p.contains("/") ? p.substring(0, p.indexOf('/')) : "").collect(Collectors.toSet());
        for (String m : List.of("stories260K", "tiny-gemma2", "tiny-gemma2-lora", "tiny-falcon", "tiny-falcon-gptq",
                "tiny-gpt2", "tiny-bert", "tiny-roberta", "tiny-aricate")) {
            assertTrue(models.contains(m), "no " + m + " in the manifest");
        }
        Set<String> files = Manifest.read(TestModels.root()).entries().keySet();
        for (String f : List.of("stories260K/stories260K.bin", "stories260K/tok512.bin", "stories260K/LICENSE",
                "stories260K/reference/greedy.jsonl", "stories260K/reference/logits_once_upon_a_time.f32",
                "stories260K/gguf/stories260K-f32.gguf", "stories260K/gguf/stories260K-q8_0.gguf",
                "stories260K/gguf/stories260K-q4_0.gguf")) {
            assertTrue(files.contains(f), "no " + f + " in the manifest");
        }
        assertTrue(Files.readString(TestModels.root().resolve("stories260K/LICENSE")).startsWith("MIT License"));
    }

    @Test
    void aChangedMissingOrUnlistedFileIsNamed(@TempDir Path dir) throws IOException {
        Files.createDirectories(dir.resolve("m/reference"));
        Files.writeString(dir.resolve("m/a.bin"), "alpha");
        Files.writeString(dir.resolve("m/reference/b.f32"), "beta");
        Files.writeString(dir.resolve(Manifest.FILE_NAME), """
                {"about": "test", "models": [{"name": "m", "description": "d", "source": "s", "licence": "l",
                  "made": "by hand", "files": [
                    {"path": "m/a.bin", "bytes": 5,
                     "sha256": "8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8"},
                    {"path": "m/reference/b.f32", "bytes": 4,
                     "sha256": "%s"}]}]}
                """.formatted(Manifest.sha256(dir.resolve("m/reference/b.f32"))));
        assertEquals(List.of(), Manifest.read(dir).problems());

        Files.writeString(dir.resolve("m/a.bin"), "alphA");
        assertEquals(List.of("m/a.bin: changed (listed 5 bytes, sha256 8ed3f6ad685b959ead7022518e1af76cd816f8e8ec7ccdda1ed4018e8f2223f8;"
                + " found 5 bytes, sha256 " + Manifest.sha256(dir.resolve("m/a.bin")) + ")"), Manifest.read(dir).problems());
        Files.writeString(dir.resolve("m/a.bin"), "alpha");

        Files.delete(dir.resolve("m/reference/b.f32"));
        assertEquals(List.of("m/reference/b.f32: listed but missing"), Manifest.read(dir).problems());
        Files.writeString(dir.resolve("m/reference/b.f32"), "beta");

        Files.writeString(dir.resolve("m/reference/extra.json"), "{}");
        assertEquals(List.of("m/reference/extra.json: not listed (2 bytes, sha256 "
                + Manifest.sha256(dir.resolve("m/reference/extra.json")) + ")"), Manifest.read(dir).problems());
    }

    @Test
    void entriesWithoutProvenanceOrEscapingTheFolderAreRefused(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("x"), "x", StandardCharsets.UTF_8);
        Files.writeString(dir.resolve(Manifest.FILE_NAME), """
                {"models": [{"name": "m", "description": "d", "source": "", "made": "m", "files": [
                    {"path": "../x", "bytes": 1, "sha256": "0"}, {"path": "x", "bytes": 1, "sha256": "0"},
                    {"path": "x", "bytes": 1, "sha256": "0"}]}]}
                """);
        List<String> problems = Manifest.read(dir).problems();
        assertTrue(problems.contains("model 'm' has no source"), problems::toString);
        assertTrue(problems.contains("model 'm' has no licence"), problems::toString);
        assertTrue(problems.contains("../x: not a plain relative path inside the folder"), problems::toString);
        assertTrue(problems.contains("x: listed twice"), problems::toString);
    }

    @Test
    void theFolderIsFoundFromAnywhereInTheCheckout(@TempDir Path elsewhere) {
        Path repo = TestModels.repository();
        assertEquals(TestModels.root(), TestModels.locate(repo.resolve("formats/src/test")));
        assertEquals(TestModels.root(), TestModels.locate(repo));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> TestModels.locate(elsewhere));
        assertTrue(e.getMessage().contains("run the tests inside an arica checkout"), e.getMessage());
    }
}
