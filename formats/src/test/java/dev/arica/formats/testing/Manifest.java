package dev.arica.formats.testing;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.io.Json;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * {@code MANIFEST.json} of a bundled-models folder: every file but the manifest itself, with its size, sha256, source,
 * licence and how it was made. {@link #problems()} compares it with the folder, one line per difference.
 */
public final class Manifest {
    public static final String FILE_NAME = "MANIFEST.json";

    /** One listed file: path relative to the folder, with '/' separators. */
    public record Entry(String path, long bytes, String sha256, String model) {}

    private final Path root;
    private final Map<String, Entry> entries;
    private final List<String> parseProblems;

    private Manifest(Path root, Map<String, Entry> entries, List<String> parseProblems) {
        this.root = root;
        this.entries = entries;
        this.parseProblems = parseProblems;
    }

    public static Manifest read(Path root) throws IOException {
        JsonNode doc = Json.readObjectFile(root.resolve(FILE_NAME));
        Map<String, Entry> entries = new LinkedHashMap<>();
        List<String> problems = new ArrayList<>();
        for (JsonNode model : doc.path("models")) {
            String name = model.path("name").asText("");
            for (String field : List.of("name", "description", "source", "licence", "made")) {
                if (!model.path(field).isTextual() || model.path(field).textValue().isBlank()) {
                    problems.add("model '" + name + "' has no " + field);
                }
            }
            for (JsonNode f : model.path("files")) {
                String path = f.path("path").asText("");
                Entry e = new Entry(path, f.path("bytes").asLong(-1), f.path("sha256").asText(""), name);
                if (path.isEmpty() || path.startsWith("/") || Path.of(path).normalize().startsWith("..")
                        || !Path.of(path).normalize().toString().replace('\\', '/').equals(path)) {
                    problems.add(path + ": not a plain relative path inside the folder");
                } else if (entries.putIfAbsent(path, e) != null) {
                    problems.add(path + ": listed twice");
                } else if (path.equals(FILE_NAME)) {
                    problems.add(path + ": the manifest does not list itself");
                }
            }
        }
        if (entries.isEmpty()) {
            problems.add(FILE_NAME + " lists no files");
        }
        return new Manifest(root, entries, problems);
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    /** Every difference between the manifest and the folder, one line each; empty when they agree. */
    public List<String> problems() throws IOException {
        List<String> out = new ArrayList<>(parseProblems);
        TreeSet<String> present = new TreeSet<>();
        try (Stream<Path> walk = Files.walk(root)) {
            walk.filter(p -> !Files.isDirectory(p)).forEach(p -> present.add(root.relativize(p).toString().replace('\\', '/')));
        }
        present.remove(FILE_NAME);
        for (Entry e : entries.values()) {
            Path file = root.resolve(e.path());
            if (!present.remove(e.path())) {
                out.add(e.path() + ": listed but missing");
            } else if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
                out.add(e.path() + ": not a regular file");
            } else {
                long size = Files.size(file);
                String sha = sha256(file);
                if (size != e.bytes() || !sha.equals(e.sha256())) {
                    out.add(e.path() + ": changed (listed " + e.bytes() + " bytes, sha256 " + e.sha256() + "; found "
                            + size + " bytes, sha256 " + sha + ")");
                }
            }
        }
        for (String unlisted : present) {
            Path file = root.resolve(unlisted);
            out.add(unlisted + ": not listed (" + Files.size(file) + " bytes, sha256 " + sha256(file) + ")");
        }
        return out;
    }

    static String sha256(Path file) {
        try {
            MessageDigest digest = MessageDigest.getInstance("SHA-256");
            try (InputStream in = new DigestInputStream(Files.newInputStream(file), digest)) {
                in.transferTo(OutputStream.nullOutputStream());
            }
            return HexFormat.of().formatHex(digest.digest());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
