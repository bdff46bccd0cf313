package dev.arica.runtime.ort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OrtEnvironment;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OrtNativeCacheTest {
    @TempDir
    Path root;

    static long resourceSize(String file) throws Exception {
        try (InputStream in = OrtEnvironment.class.getResourceAsStream("/ai/onnxruntime/native/" + OrtNativeCache.thisPlatform() + "/" + file)) {
            return in.transferTo(java.io.OutputStream.nullOutputStream());
        }
    }

    @Test
    void extractsOnceThenReuses() throws Exception {
        OrtNativeCache cache = OrtNativeCache.at(root);
        assertEquals(root.resolve(cache.version()).resolve(cache.platform()), cache.directory());
        List<String> files = OrtNativeCache.CORE.stream().map(System::mapLibraryName).toList();

        OrtNativeCache.Extraction first = cache.ensure(OrtNativeCache.CORE);
        assertEquals(files, first.extracted());
        assertEquals(List.of(), first.reused());
        for (String f : files) {
            assertEquals(resourceSize(f), Files.size(cache.directory().resolve(f)), f);
        }
        OrtNativeCache.Extraction second = OrtNativeCache.at(root).ensure(OrtNativeCache.CORE);
        assertEquals(List.of(), second.extracted());
        assertEquals(files, second.reused());

        // A file cut short (a full disk, an old crash) is written again.
        Path lib = cache.directory().resolve(files.get(0));
        Files.write(lib, new byte[] {1, 2, 3});
        OrtNativeCache.Extraction third = cache.ensure(OrtNativeCache.CORE);
        assertEquals(List.of(files.get(0)), third.extracted());
        assertEquals(resourceSize(files.get(0)), Files.size(lib));
        try (Stream<Path> s = Files.list(cache.directory())) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp-")).toList(),
                    "no temporaries left behind");
        }
        System.out.printf("native cache: first ensure %d ms (extracted %s), second %.2f ms%n",
                first.took().toMillis(), first.extracted(), second.took().toNanos() / 1e6);
    }

    /** CudaProbe.REQUIRED_LIBRARIES was read from this ORT version's CUDA provider; a new version needs a new look. */
    @Test
    void cudaLibraryListMatchesTheOrtVersion() {
        assertEquals(CudaProbe.CHECKED_ORT_VERSION, OrtNativeCache.at(root).version(),
                "re-read the DT_NEEDED entries of libonnxruntime_providers_cuda.so and update CudaProbe.REQUIRED_LIBRARIES");
    }

    @Test
    void defaultRootIsAUserCacheDirectory() {
        Path d = OrtNativeCache.defaultRoot();
        assertTrue(d.endsWith(Path.of("arica", "onnxruntime")), d.toString());
        assertTrue(d.isAbsolute(), d.toString());
    }
}
