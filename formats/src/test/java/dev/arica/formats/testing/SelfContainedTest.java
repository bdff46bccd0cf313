package dev.arica.formats.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * No source, test, build file or script of the repository reads material from outside it: a fresh clone has nothing
 * beside it, so everything the tests and the demo use is bundled (testdata/models). Documentation may mention where
 * the peer tools were built, so Markdown is not scanned.
 */
class SelfContainedTest {
    // Assembled so that this file does not match itself.
    private static final List<String> OUTSIDE = List.of(".." + "/shared", "/work" + "/shared", "ARICA" + "_SHARED");
    private static final Set<String> SKIPPED_DIRS = Set.of("target", "node_modules");

    @Test
    void nothingInTheRepositoryReadsMaterialBesideIt() throws IOException {
        Path repo = TestModels.repository();
        Path data = TestModels.root();
        List<String> hits = new ArrayList<>();
        int scanned = 0;
        try (Stream<Path> walk = Files.walk(repo)) {
            for (Path file : walk.filter(Files::isRegularFile).toList()) {
                Path rel = repo.relativize(file);
                if (file.startsWith(data) || file.toString().endsWith(".md") || skipped(rel)) {
                    continue;
                }
                scanned++;
                List<String> lines = Files.readAllLines(file, StandardCharsets.ISO_8859_1);
                for (int i = 0; i < lines.size(); i++) {
                    for (String needle : OUTSIDE) {
                        if (lines.get(i).contains(needle)) {
                            hits.add(rel + ":" + (i + 1) + ": " + lines.get(i).strip());
                        }
                    }
                }
            }
        }
        assertTrue(scanned > 100, "scanned only " + scanned + " files under " + repo);
        assertTrue(hits.isEmpty(), () -> "read material from outside the repository (bundle it under testdata/models):\n  "
                + String.join("\n  ", hits));
    }

    private static boolean skipped(Path rel) {
        for (Path part : rel.getParent() == null ? Path.of("") : rel.getParent()) {
            String name = part.toString();
            // Hidden folders are tools' state (.git, IDEs), except CI's own scripts.
            if (SKIPPED_DIRS.contains(name) || name.startsWith(".") && !name.equals(".ci")) {
                return true;
            }
        }
        return false;
    }
}
