package dev.arica.formats.io;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arica.formats.Progress;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

/** The workers of a pipeline asked to yield run at a lower priority than its caller, the others at the same. */
class ThreadNiceTest {

    private static Map<Integer, Integer> workerNices(int workerNice) throws IOException {
        Map<Integer, Integer> seen = new ConcurrentHashMap<>();
        try (ChunkPipeline p = new ChunkPipeline(bytes -> {}, Progress.NONE, 64, 2, workerNice)) {
            for (int i = 0; i < 8; i++) {
                int job = i;
                p.submit(buffer -> {
                    seen.put(job, niceOfThisThread());
                    return buffer.asSlice(0, 0);
                }, null, 0);
            }
            p.drain();
        }
        return seen;
    }

    /** The calling thread's nice value as the kernel reports it: field 19 of /proc/thread-self/stat. */
    private static int niceOfThisThread() throws IOException {
        String stat = Files.readString(Path.of("/proc/thread-self/stat"));
        return Integer.parseInt(stat.substring(stat.lastIndexOf(')') + 2).split(" ")[16]);
    }

    @Test
    void workersRunThatMuchLowerOnLinux() throws IOException {
        if (!System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            assertEquals(false, ThreadNice.lower(1), "a no-op off Linux");
            return;
        }
        int caller = niceOfThisThread();
        int want = Math.min(19, caller + 5);
        Map<Integer, Integer> lowered = workerNices(5);
        assertEquals(8, lowered.size());
        lowered.values().forEach(n -> assertEquals(want, n, "a worker's nice value"));
        workerNices(0).values().forEach(n -> assertEquals(caller, n, "workers of a pipeline not asked to yield"));
        assertEquals(caller, niceOfThisThread(), "the caller's own priority is untouched");
    }
}
