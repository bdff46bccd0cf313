package dev.arica.runtime.ort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.FormatException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CudaProbeTest {
    @TempDir
    Path dir;

    static final int MACHINE = switch (System.getProperty("os.arch")) {
        case "aarch64" -> 183;
        default -> 62;
    };

    /** The first 20 bytes of an ELF shared object: 64-bit little-endian, the given machine. */
    static byte[] elf(int elfClass, int machine) {
        ByteBuffer b = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7F, 'E', 'L', 'F', (byte) elfClass, 1, 1});
        b.putShort(16, (short) 3).putShort(18, (short) machine);
        return b.array();
    }

    Path fakeLibs(Path libDir, List<String> names) throws Exception {
        Files.createDirectories(libDir);
        for (String n : names) {
            Files.write(libDir.resolve(n), elf(2, MACHINE));
        }
        return libDir;
    }

    /** A loader cache in glibc's new format: header, 24-byte entries, then the strings. */
    static byte[] ldCache(List<String[]> sonameAndPath, int flags) {
        ByteArrayOutputStream strings = new ByteArrayOutputStream();
        int n = sonameAndPath.size();
        int stringBase = LdSoCache.HEADER + n * LdSoCache.ENTRY;
        ByteBuffer b = ByteBuffer.allocate(stringBase).order(ByteOrder.LITTLE_ENDIAN);
        b.put(LdSoCache.MAGIC.getBytes(StandardCharsets.US_ASCII));
        b.putInt(20, n);
        for (int i = 0; i < n; i++) {
            int key = stringBase + strings.size();
            strings.writeBytes((sonameAndPath.get(i)[0] + "\0").getBytes(StandardCharsets.UTF_8));
            int value = stringBase + strings.size();
            strings.writeBytes((sonameAndPath.get(i)[1] + "\0").getBytes(StandardCharsets.UTF_8));
            int e = LdSoCache.HEADER + i * LdSoCache.ENTRY;
            b.putInt(e, flags).putInt(e + 4, key).putInt(e + 8, value);
        }
        b.putInt(24, strings.size());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(b.array());
        out.writeBytes(strings.toByteArray());
        return out.toByteArray();
    }

    CudaProbe.Locations where(List<Path> ldPath, Path cache, List<Path> defaults, boolean device) throws Exception {
        Path marker = dir.resolve("nvidiactl");
        if (device) {
            Files.write(marker, new byte[0]);
        }
        return new CudaProbe.Locations(ldPath, cache, defaults, List.of(marker));
    }

    @Test
    void everyLibraryFoundMeansAvailable() throws Exception {
        Path libs = fakeLibs(dir.resolve("cuda"), CudaProbe.REQUIRED_LIBRARIES);
        CudaProbe.Result r = CudaProbe.probe(where(List.of(libs), null, List.of(), true), CudaProbe.REQUIRED_LIBRARIES);
        assertTrue(r.available(), r.reason());
        assertEquals("", r.reason());
        assertEquals(libs.resolve("libcudart.so.12"), r.found().get("libcudart.so.12"));
        assertEquals(List.of(), r.missing());
    }

    @Test
    void noDeviceNodeMeansUnavailableWhateverTheLibraries() throws Exception {
        Path libs = fakeLibs(dir.resolve("cuda"), CudaProbe.REQUIRED_LIBRARIES);
        CudaProbe.Result r = CudaProbe.probe(where(List.of(libs), null, List.of(), false), CudaProbe.REQUIRED_LIBRARIES);
        assertFalse(r.available());
        assertTrue(r.reason().startsWith("no NVIDIA device (none of ["), r.reason());
    }

    @Test
    void missingOrForeignLibrariesAreNamed() throws Exception {
        Path libs = fakeLibs(dir.resolve("cuda"), List.of("libcuda.so.1", "libcudart.so.12", "libcublas.so.12"));
        Files.write(libs.resolve("libcublasLt.so.12"), elf(1, MACHINE)); // 32-bit: the loader would skip it
        Files.write(libs.resolve("libcurand.so.10"), elf(2, MACHINE == 62 ? 183 : 62)); // another machine
        CudaProbe.Result r = CudaProbe.probe(where(List.of(libs), null, List.of(), true), CudaProbe.REQUIRED_LIBRARIES);
        assertFalse(r.available());
        assertEquals(List.of("libcublasLt.so.12", "libcurand.so.10"), r.missing());
        assertTrue(r.reason().startsWith("CUDA libraries not found: libcublasLt.so.12, libcurand.so.10 (searched "), r.reason());
        assertEquals(3, r.found().size());
    }

    @Test
    void librariesAreFoundThroughTheLoaderCacheAndDefaultDirectories() throws Exception {
        Path libs = fakeLibs(dir.resolve("somewhere"), CudaProbe.REQUIRED_LIBRARIES);
        List<String[]> entries = new ArrayList<>();
        for (String lib : CudaProbe.REQUIRED_LIBRARIES.subList(0, 4)) {
            entries.add(new String[] {lib, libs.resolve(lib).toString()});
        }
        Path cache = Files.write(dir.resolve("ld.so.cache"), ldCache(entries, LdSoCache.flagsForThisJvm()));
        Path defaults = fakeLibs(dir.resolve("lib64"), List.of("libcurand.so.10"));
        CudaProbe.Result r = CudaProbe.probe(where(List.of(), cache, List.of(defaults), true), CudaProbe.REQUIRED_LIBRARIES);
        assertTrue(r.available(), r.reason());
        assertEquals(libs.resolve("libcublas.so.12"), r.found().get("libcublas.so.12"));
        assertEquals(defaults.resolve("libcurand.so.10"), r.found().get("libcurand.so.10"));
        // Entries for another architecture (i386 libc6: flags 0x0003) do not count.
        Files.write(cache, ldCache(entries, LdSoCache.FLAG_ELF_LIBC6));
        r = CudaProbe.probe(where(List.of(), cache, List.of(defaults), true), CudaProbe.REQUIRED_LIBRARIES);
        assertEquals(CudaProbe.REQUIRED_LIBRARIES.subList(0, 4), r.missing());
    }

    @Test
    void aBrokenLoaderCacheIsNamedNotFatal() throws Exception {
        byte[] good = ldCache(List.<String[]>of(new String[] {"libx.so", "/x/libx.so"}), 0x303);
        Path cache = Files.write(dir.resolve("ld.so.cache"), Arrays.copyOf(good, good.length - 4));
        FormatException e = assertThrows(FormatException.class, () -> LdSoCache.read(cache));
        assertTrue(e.getMessage().startsWith(cache + ": has an unterminated string"), e.getMessage());
        ByteBuffer lying = ByteBuffer.wrap(good.clone()).order(ByteOrder.LITTLE_ENDIAN).putInt(20, Integer.MAX_VALUE);
        Files.write(cache, lying.array());
        e = assertThrows(FormatException.class, () -> LdSoCache.read(cache));
        assertTrue(e.getMessage().contains("claims 2147483647 entries"), e.getMessage());
        CudaProbe.Result r = CudaProbe.probe(where(List.of(), cache, List.of(), true), CudaProbe.REQUIRED_LIBRARIES);
        assertFalse(r.available());
        assertTrue(r.reason().contains(cache + " (" + cache + ": claims"), r.reason());
        Files.write(cache, "not a cache".getBytes(StandardCharsets.US_ASCII));
        assertThrows(FormatException.class, () -> LdSoCache.read(cache));
    }

    /** The parser agrees with ldconfig itself about this machine's cache. */
    @Test
    void systemCacheMatchesLdconfig() throws Exception {
        Assumptions.assumeTrue(Files.isRegularFile(LdSoCache.SYSTEM), "no " + LdSoCache.SYSTEM + " here");
        Process p;
        try {
            p = new ProcessBuilder("ldconfig", "-p").redirectErrorStream(true).start();
        } catch (java.io.IOException e) {
            Assumptions.abort("ldconfig cannot run here: " + e.getMessage());
            return;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        Set<String> fromLdconfig = new HashSet<>();
        Matcher m = Pattern.compile("^\\s+(\\S+) \\(.*\\) => (.+)$", Pattern.MULTILINE).matcher(out);
        while (m.find()) {
            fromLdconfig.add(m.group(1) + " => " + m.group(2));
        }
        Set<String> parsed = new HashSet<>();
        for (LdSoCache.Entry e : LdSoCache.read(LdSoCache.SYSTEM)) {
            parsed.add(e.soname() + " => " + e.path());
        }
        assertFalse(parsed.isEmpty());
        assertEquals(fromLdconfig, parsed);
    }

    /**
     * The probe answers in milliseconds: measured here, median of 21 runs, both with this machine's device
     * check and with a device marker present so that every library is looked up in the real loader cache.
     */
    @Test
    void probeTakesMilliseconds() throws Exception {
        CudaProbe.Result system = CudaProbe.probe();
        assertEquals(system.available(), system.reason().isEmpty());
        CudaProbe.Locations real = CudaProbe.Locations.system();
        CudaProbe.Locations withDevice = new CudaProbe.Locations(real.libraryPath(), real.ldCache(), real.defaultDirs(),
                List.of(Files.write(dir.resolve("nvidiactl"), new byte[0])));
        long[] quick = new long[21], full = new long[21];
        for (int i = 0; i < 21; i++) {
            quick[i] = CudaProbe.probe().took().toNanos();
            full[i] = CudaProbe.probe(withDevice, CudaProbe.REQUIRED_LIBRARIES).took().toNanos();
        }
        Arrays.sort(quick);
        Arrays.sort(full);
        System.out.printf("CUDA probe on this machine: %s (%s); median %.3f ms; with the library search %.3f ms (max %.3f ms)%n",
                system.available() ? "available" : "unavailable", system.reason(), quick[10] / 1e6, full[10] / 1e6, full[20] / 1e6);
        assertTrue(full[10] < 250_000_000L, "median probe " + full[10] / 1e6 + " ms should be far below a second");
        Map<String, Path> found = CudaProbe.probe(withDevice, CudaProbe.REQUIRED_LIBRARIES).found();
        found.values().forEach(path -> assertTrue(CudaProbe.loadable(path), path.toString()));
    }
}
