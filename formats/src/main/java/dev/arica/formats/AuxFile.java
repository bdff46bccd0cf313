package dev.arica.formats;

import dev.arica.formats.io.AtomicOutput;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A file that travels with a checkpoint without being a tensor file: a tokenizer, generation_config.json.
 * Either copied from {@code source} or written from {@code content}.
 */
public record AuxFile(String name, Path source, byte[] content) {

    public AuxFile {
        if (name.isEmpty() || name.contains("/") || name.contains("\\") || name.equals("..") || name.equals(".")) {
            throw new IllegalArgumentException("not a plain file name: " + name);
        }
        if ((source == null) == (content == null)) {
            throw new IllegalArgumentException("exactly one of source and content must be given for " + name);
        }
    }

    public static AuxFile copyOf(String name, Path source) {
        return new AuxFile(name, source, null);
    }

    public static AuxFile of(String name, byte[] content) {
        return new AuxFile(name, null, content.clone());
    }

    /** The file's bytes, read from {@code source} when it is a copy (side files are small). */
    public byte[] bytes() throws IOException {
        return source != null ? Files.readAllBytes(source) : content.clone();
    }

    /** Writes the file into {@code dir}, byte for byte. */
    public void writeInto(Path dir) throws IOException {
        Path target = dir.resolve(name);
        Files.deleteIfExists(target);
        if (source != null) {
            AtomicOutput.copy(source, target);
        } else {
            AtomicOutput.write(target, content);
        }
    }
}
