package dev.arica.formats.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The models bundled in the repository under {@code testdata/models} (see its README.md and MANIFEST.json): the one
 * place every module's tests find them. Found by walking up from the working directory, so it holds for Maven (which
 * runs each module's tests in that module), an IDE and a single test run alike; absent material is a failure, never a
 * skip.
 */
public final class TestModels {
    private TestModels() {}

    /** The folder's location inside the repository. */
    public static final Path RELATIVE = Path.of("testdata", "models");

    private static volatile Path root;

    /** {@code testdata/models} of the repository these tests belong to. */
    public static Path root() {
        Path found = root;
        if (found == null) {
            found = locate(Path.of(System.getProperty("user.dir")).toAbsolutePath().normalize());
            root = found;
        }
        return found;
    }

    /** The repository's top directory (the one holding {@code testdata/models}). */
    public static Path repository() {
        return root().getParent().getParent();
    }

    /** One bundled model's directory, e.g. {@code dir("tiny-gemma2")}; fails when the manifest does not list it. */
    public static Path dir(String model) {
        Path dir = root().resolve(model);
        if (!Files.isDirectory(dir)) {
            throw new IllegalStateException("no bundled model " + model + " in " + root());
        }
        return dir;
    }

    static Path locate(Path start) {
        for (Path p = start; p != null; p = p.getParent()) {
            Path candidate = p.resolve(RELATIVE);
            if (Files.isRegularFile(candidate.resolve(Manifest.FILE_NAME))) {
                return candidate;
            }
        }
        throw new IllegalStateException("no " + RELATIVE.resolve(Manifest.FILE_NAME) + " in " + start
                + " or any directory above it: run the tests inside an arica checkout");
    }
}
