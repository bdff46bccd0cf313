package dev.arica.runtime.ort;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Whether ONNX Runtime's CUDA provider can work here, decided from files alone: an NVIDIA device node and
 * the shared libraries the provider links against, found where the dynamic loader would look
 * (LD_LIBRARY_PATH, /etc/ld.so.cache, the default directories) and built for this JVM's architecture.
 * Asking ORT itself costs seconds (it unpacks a 580 MB provider library before failing), this a few
 * milliseconds.
 */
public final class CudaProbe {

    /**
     * The CUDA provider's DT_NEEDED libraries beyond libc and libstdc++ ({@code readelf -d
     * libonnxruntime_providers_cuda.so} of onnxruntime_gpu {@value #CHECKED_ORT_VERSION}; cuDNN is not
     * among them). Re-check when the ORT version changes: OrtNativeCacheTest fails until then.
     */
    public static final List<String> REQUIRED_LIBRARIES =
            List.of("libcuda.so.1", "libcudart.so.12", "libcublas.so.12", "libcublasLt.so.12", "libcurand.so.10");

    /** The onnxruntime_gpu version {@link #REQUIRED_LIBRARIES} was read from. */
    public static final String CHECKED_ORT_VERSION = "1.29.0";

    /** The outcome: usable or not, why not, what was found where, and how long it took to find out. */
    public record Result(boolean available, String reason, Map<String, Path> found, List<String> missing, Duration took) {
        public Result {
            found = Map.copyOf(found);
            missing = List.copyOf(missing);
        }
    }

    /** Where to look; {@link #system()} is what the dynamic loader uses. */
    public record Locations(List<Path> libraryPath, Path ldCache, List<Path> defaultDirs, List<Path> deviceMarkers) {
        public Locations {
            libraryPath = List.copyOf(libraryPath);
            defaultDirs = List.copyOf(defaultDirs);
            deviceMarkers = List.copyOf(deviceMarkers);
        }

        public static Locations system() {
            List<Path> ldPath = new ArrayList<>();
            String env = System.getenv("LD_LIBRARY_PATH");
            if (env != null) {
                for (String dir : env.split(":")) {
                    if (!dir.isEmpty()) {
                        ldPath.add(Path.of(dir));
                    }
                }
            }
            List<Path> defaults = List.of(Path.of("/lib64"), Path.of("/usr/lib64"), Path.of("/lib"), Path.of("/usr/lib"),
                    Path.of("/usr/local/cuda/lib64"));
            // WSL exposes the GPU as /dev/dxg; containers get /dev/nvidiactl and /dev/nvidia0.
            List<Path> markers = List.of(Path.of("/dev/nvidiactl"), Path.of("/dev/nvidia0"), Path.of("/dev/dxg"),
                    Path.of("/proc/driver/nvidia/gpus"));
            return new Locations(ldPath, LdSoCache.SYSTEM, defaults, markers);
        }
    }

    private CudaProbe() {}

    /** Probes this machine. */
    public static Result probe() {
        return probe(Locations.system(), REQUIRED_LIBRARIES);
    }

    static Result probe(Locations where, List<String> libraries) {
        long start = System.nanoTime();
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return done(start, false, "the CUDA check knows Linux only", Map.of(), libraries);
        }
        if (where.deviceMarkers().stream().noneMatch(Files::exists)) {
            return done(start, false, "no NVIDIA device (none of " + where.deviceMarkers() + " exists)", Map.of(), libraries);
        }
        List<LdSoCache.Entry> cache = List.of();
        String cacheNote = "";
        if (where.ldCache() != null && Files.isRegularFile(where.ldCache())) {
            try {
                cache = LdSoCache.read(where.ldCache());
            } catch (IOException e) {
                cacheNote = " (" + e.getMessage() + ")";
            }
        }
        int wantFlags = LdSoCache.flagsForThisJvm();
        Map<String, Path> found = new LinkedHashMap<>();
        List<String> missing = new ArrayList<>();
        for (String lib : libraries) {
            Path p = find(lib, where, cache, wantFlags);
            if (p != null) {
                found.put(lib, p);
            } else {
                missing.add(lib);
            }
        }
        if (!missing.isEmpty()) {
            return done(start, false, "CUDA libraries not found: " + String.join(", ", missing) + " (searched LD_LIBRARY_PATH, "
                    + where.ldCache() + cacheNote + ", " + where.defaultDirs() + ")", found, missing);
        }
        return done(start, true, "", found, missing);
    }

    private static Result done(long start, boolean ok, String reason, Map<String, Path> found, List<String> missing) {
        return new Result(ok, reason, found, missing, Duration.ofNanos(System.nanoTime() - start));
    }

    /** The loader's search order: LD_LIBRARY_PATH, its cache, then the default directories. */
    private static Path find(String lib, Locations where, List<LdSoCache.Entry> cache, int wantFlags) {
        for (Path dir : where.libraryPath()) {
            Path p = dir.resolve(lib);
            if (loadable(p)) {
                return p;
            }
        }
        for (LdSoCache.Entry e : cache) {
            if (e.soname().equals(lib) && (wantFlags < 0 || e.flags() == wantFlags) && loadable(e.path())) {
                return e.path();
            }
        }
        for (Path dir : where.defaultDirs()) {
            Path p = dir.resolve(lib);
            if (loadable(p)) {
                return p;
            }
        }
        return null;
    }

    /** A regular file (through links) whose ELF header matches this JVM: 64-bit, this machine type. */
    static boolean loadable(Path p) {
        if (!Files.isRegularFile(p)) {
            return false;
        }
        byte[] head = new byte[20];
        try (InputStream in = Files.newInputStream(p)) {
            if (in.readNBytes(head, 0, head.length) < head.length) {
                return false;
            }
        } catch (IOException e) {
            return false;
        }
        if (head[0] != 0x7F || head[1] != 'E' || head[2] != 'L' || head[3] != 'F' || head[4] != 2 /* ELFCLASS64 */) {
            return false;
        }
        ByteOrder order = head[5] == 2 ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        int machine = ByteBuffer.wrap(head, 18, 2).order(order).getShort() & 0xFFFF;
        int want = switch (System.getProperty("os.arch", "")) {
            case "amd64", "x86_64" -> 62;   // EM_X86_64
            case "aarch64" -> 183;          // EM_AARCH64
            default -> machine;
        };
        return machine == want;
    }
}
