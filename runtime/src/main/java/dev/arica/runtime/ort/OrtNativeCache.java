package dev.arica.runtime.ort;

import ai.onnxruntime.OrtEnvironment;
import dev.arica.formats.io.AtomicOutput;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URL;
import java.net.URLConnection;
import java.nio.channels.Channels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * A directory holding ONNX Runtime's native libraries unpacked from its jar, one per ORT version and
 * platform, e.g. {@code ~/.cache/arica/onnxruntime/1.29.0/linux-x64/}. ORT's own loader unpacks them into
 * a fresh temporary directory at every start (and the 580 MB CUDA provider at every CUDA session); pointed
 * at this directory through {@code onnxruntime.native.path} it loads them in place. Each file is written
 * under a temporary name and renamed, so a file under its real name is complete; one whose size differs
 * from the jar's entry is written again.
 */
public final class OrtNativeCache {
    /** ORT's system property naming a directory that holds all its native libraries. */
    public static final String NATIVE_PATH_PROPERTY = "onnxruntime.native.path";
    /** Libraries every session needs (by ORT's short names). */
    public static final List<String> CORE = List.of("onnxruntime", "onnxruntime4j_jni", "onnxruntime_providers_shared");
    /** The CUDA execution provider library. */
    public static final String CUDA_PROVIDER = "onnxruntime_providers_cuda";

    private final Path directory;
    private final String version;
    private final String platform;

    /** What {@link #ensure} did. */
    public record Extraction(List<String> extracted, List<String> reused, Duration took) {
        public Extraction {
            extracted = List.copyOf(extracted);
            reused = List.copyOf(reused);
        }
    }

    private OrtNativeCache(Path root, String version, String platform) {
        this.version = version;
        this.platform = platform;
        this.directory = root.resolve(version).resolve(platform);
    }

    /** The cache under {@code root} for the ORT jar on the class path. */
    public static OrtNativeCache at(Path root) {
        String v = OrtEnvironment.class.getPackage().getImplementationVersion();
        return new OrtNativeCache(root.toAbsolutePath().normalize(), v == null ? "unversioned" : v, thisPlatform());
    }

    /** {@code $XDG_CACHE_HOME/arica/onnxruntime}, else {@code ~/.cache/arica/onnxruntime}. */
    public static Path defaultRoot() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("arica").resolve("onnxruntime");
    }

    public Path directory() {
        return directory;
    }

    /** The ORT version of the jar (its manifest's Implementation-Version), or "unversioned". */
    public String version() {
        return version;
    }

    public String platform() {
        return platform;
    }

    /** Unpacks the libraries not yet here (or not complete); returns which were written and which reused. */
    public Extraction ensure(List<String> libraries) throws IOException {
        long start = System.nanoTime();
        Files.createDirectories(directory);
        List<String> extracted = new ArrayList<>();
        List<String> reused = new ArrayList<>();
        for (String lib : libraries) {
            String file = System.mapLibraryName(lib);
            String resource = "/ai/onnxruntime/native/" + platform + "/" + file;
            URL url = OrtEnvironment.class.getResource(resource);
            if (url == null) {
                throw new IOException("the ONNX Runtime jar has no " + resource + " for this platform");
            }
            URLConnection c = url.openConnection();
            long expected = c.getContentLengthLong();
            Path target = directory.resolve(file);
            if (expected >= 0 && Files.isRegularFile(target) && Files.size(target) == expected) {
                reused.add(file);
                continue;
            }
            // Another process doing the same at once publishes the same bytes: the last rename wins.
            try (InputStream in = c.getInputStream(); AtomicOutput out = AtomicOutput.file(target)) {
                long n;
                try (OutputStream os = Channels.newOutputStream(AtomicOutput.create(out.temp()))) {
                    n = in.transferTo(os);
                } catch (IOException e) {
                    throw AtomicOutput.explain(out.temp(), e);
                }
                if (expected >= 0 && n != expected) {
                    throw new IOException(resource + " gave " + n + " bytes, the jar says " + expected);
                }
                out.commit();
            }
            extracted.add(file);
        }
        return new Extraction(extracted, reused, Duration.ofNanos(System.nanoTime() - start));
    }

    /** ORT's name for this platform's resource directory, e.g. linux-x64. */
    static String thisPlatform() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        String o = os.contains("mac") || os.contains("darwin") ? "osx" : os.contains("win") ? "win" : os.contains("nux") ? "linux" : os;
        String a = arch.startsWith("amd64") || arch.startsWith("x86_64") ? "x64" : arch;
        return o + "-" + a;
    }
}
