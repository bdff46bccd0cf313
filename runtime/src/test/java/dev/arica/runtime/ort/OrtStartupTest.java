package dev.arica.runtime.ort;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ORT start-up in fresh JVMs: a cold start unpacks the libraries into the cache, a warm one only loads
 * them; ORT's own loader unpacks at every start. The times are printed (they depend on the machine);
 * what is asserted is that the warm start unpacks nothing.
 */
class OrtStartupTest {
    @TempDir
    Path dir;

    record Run(long startupNs, long processNs, String extracted, String reused) {}

    static Run child(String... args) throws Exception {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(java, "--enable-native-access=ALL-UNNAMED", "-Xshare:auto", "-cp", cp,
                OrtStartupMain.class.getName()));
        cmd.addAll(Arrays.asList(args));
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        long t1 = System.nanoTime();
        assertEquals(0, p.exitValue(), out);
        Matcher m = Pattern.compile("startup_ns=(\\d+) extracted=(\\S+) reused=(\\S+)").matcher(out);
        assertTrue(m.find(), out);
        return new Run(Long.parseLong(m.group(1)), t1 - t0, m.group(2), m.group(3));
    }

    static double medianMs(List<Run> runs, boolean process) {
        long[] v = runs.stream().mapToLong(r -> process ? r.processNs() : r.startupNs()).sorted().toArray();
        return v[v.length / 2] / 1e6;
    }

    @Test
    void warmStartsReuseTheCache() throws Exception {
        List<Run> cold = new ArrayList<>(), warm = new ArrayList<>(), plain = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Path root = dir.resolve("cold" + i);
            cold.add(child("cache", root.toString()));
            assertEquals("3", cold.getLast().extracted(), "a cold start unpacks the three core libraries");
            warm.add(child("cache", root.toString()));
            assertEquals("0", warm.getLast().extracted(), "a warm start unpacks nothing");
            assertEquals("3", warm.getLast().reused());
        }
        warm.add(child("cache", dir.resolve("cold0").toString()));
        for (int i = 0; i < 3; i++) {
            plain.add(child("ort-default"));
        }
        System.out.printf("ORT start-up (to a usable environment; whole JVM in brackets), medians: cold cache %.0f ms (%.0f), "
                        + "warm cache %.0f ms (%.0f), ORT's own temp-dir loader %.0f ms (%.0f)%n",
                medianMs(cold, false), medianMs(cold, true), medianMs(warm, false), medianMs(warm, true),
                medianMs(plain, false), medianMs(plain, true));
    }
}
