package dev.arica.runtime.ort;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * ONNX Runtime as loaded into this JVM. ORT loads its native libraries once per process and keeps one
 * environment, so this is one per process too: the first {@link #start} decides where the libraries come
 * from (the {@link OrtNativeCache}, unless {@code onnxruntime.native.path} is already set), later calls
 * return the same object. Guarded by the class lock.
 */
public final class OrtRuntime {
    private static OrtRuntime started;

    private final OrtEnvironment environment;
    private final OrtNativeCache cache;
    private final OrtNativeCache.Extraction extraction;
    private final String note;
    private final Duration startup;
    private boolean cudaReady;

    private OrtRuntime(OrtEnvironment environment, OrtNativeCache cache, OrtNativeCache.Extraction extraction,
                       String note, Duration startup) {
        this.environment = environment;
        this.cache = cache;
        this.extraction = extraction;
        this.note = note;
        this.startup = startup;
    }

    /** The runtime, started with the default cache directory if it is not running yet. */
    public static synchronized OrtRuntime get() {
        return started != null ? started : start(OrtNativeCache.defaultRoot());
    }

    /**
     * Starts ORT with its libraries cached under {@code cacheRoot}; returns the running one when ORT was
     * already started (whatever its cache). A cache that cannot be written is not fatal: ORT then unpacks
     * into a temporary directory as usual, and {@link #note()} says why.
     */
    public static synchronized OrtRuntime start(Path cacheRoot) {
        if (started != null) {
            return started;
        }
        long t0 = System.nanoTime();
        OrtNativeCache cache = null;
        OrtNativeCache.Extraction extraction = null;
        String note;
        String preset = System.getProperty(OrtNativeCache.NATIVE_PATH_PROPERTY);
        if (preset != null) {
            note = "native libraries from " + OrtNativeCache.NATIVE_PATH_PROPERTY + "=" + preset;
        } else {
            try {
                OrtNativeCache c = OrtNativeCache.at(cacheRoot);
                extraction = c.ensure(OrtNativeCache.CORE);
                System.setProperty(OrtNativeCache.NATIVE_PATH_PROPERTY, c.directory().toString());
                cache = c;
                note = "native libraries cached in " + c.directory();
            } catch (IOException | RuntimeException e) {
                note = "native library cache unusable (" + e.getMessage() + "); ONNX Runtime unpacks to a temporary directory";
            }
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "arica");
        started = new OrtRuntime(env, cache, extraction, note, Duration.ofNanos(System.nanoTime() - t0));
        return started;
    }

    public OrtEnvironment environment() {
        return environment;
    }

    /** The directory the native libraries were loaded from, when it is arica's cache. */
    public Optional<Path> nativeDirectory() {
        return Optional.ofNullable(cache).map(OrtNativeCache::directory);
    }

    /** What the start did with the cache; empty when the cache was not used. */
    public Optional<OrtNativeCache.Extraction> extraction() {
        return Optional.ofNullable(extraction);
    }

    /** Where the native libraries came from, in one line. */
    public String note() {
        return note;
    }

    /** Time from {@link #start} to a usable environment, extraction included. */
    public Duration startup() {
        return startup;
    }

    public String version() {
        return environment.getVersion();
    }

    /** Puts the CUDA provider library beside the others before a session asks ORT for CUDA. */
    synchronized void prepareCuda() throws IOException {
        if (!cudaReady && cache != null) {
            cache.ensure(List.of(OrtNativeCache.CUDA_PROVIDER));
        }
        cudaReady = true;
    }
}
