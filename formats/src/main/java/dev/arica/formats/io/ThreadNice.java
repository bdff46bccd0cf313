package dev.arica.formats.io;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Lowers the scheduling priority (raises the nice value) of the calling thread, on Linux, where a thread's nice value
 * is its own (setpriority on its thread id). Used to let one sequential thread on the critical path (the provenance
 * hash of a source seen for the first time) keep its core while the parallel workers share what is left. Elsewhere, or
 * when native access is denied, it does nothing: a hint, never a result.
 */
public final class ThreadNice {
    private static final int PRIO_PROCESS = 0;
    private static final Optional<Calls> CALLS = lookup();

    private record Calls(MethodHandle gettid, MethodHandle getpriority, MethodHandle setpriority) {}

    private ThreadNice() {}

    private static Optional<Calls> lookup() {
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
            return Optional.empty();
        }
        try {
            Linker l = Linker.nativeLinker();
            var libc = l.defaultLookup();
            return Optional.of(new Calls(
                    l.downcallHandle(libc.findOrThrow("gettid"), FunctionDescriptor.of(ValueLayout.JAVA_INT)),
                    l.downcallHandle(libc.findOrThrow("getpriority"),
                            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT)),
                    l.downcallHandle(libc.findOrThrow("setpriority"), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                            ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT))));
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    /** Raises the calling thread's nice value by {@code by} (at most to 19); false where that is not possible. */
    public static boolean lower(int by) {
        if (CALLS.isEmpty() || by <= 0) {
            return false;
        }
        Calls c = CALLS.get();
        try {
            int tid = (int) c.gettid().invokeExact();
            int now = (int) c.getpriority().invokeExact(PRIO_PROCESS, tid); // -1 is also a valid nice value: no errno check
            return (int) c.setpriority().invokeExact(PRIO_PROCESS, tid, Math.min(19, now + by)) == 0;
        } catch (Throwable t) {
            return false;
        }
    }
}
