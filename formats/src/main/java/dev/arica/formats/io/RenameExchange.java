package dev.arica.formats.io;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;

/**
 * Swaps two paths in one step: Linux's renameat2 with RENAME_EXCHANGE (kernel 3.15, glibc 2.28), so that a
 * replaced output directory is never absent, not even between two renames. Where it is missing (another
 * system, an old C library, a file system without it, native access denied) {@link #swap} says so and
 * the caller renames twice.
 */
final class RenameExchange {
    private static final int AT_FDCWD = -100;
    private static final int RENAME_EXCHANGE = 2;
    private static final Optional<MethodHandle> RENAMEAT2 = lookup();

    private RenameExchange() {}

    private static Optional<MethodHandle> lookup() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).contains("linux")) {
            return Optional.empty();
        }
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("renameat2").map(addr -> linker.downcallHandle(addr,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS,
                            ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT)));
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    /** Exchanges {@code a} and {@code b}, both existing; false when this system cannot (nothing changed then). */
    static boolean swap(Path a, Path b) {
        if (RENAMEAT2.isEmpty()) {
            return false;
        }
        try (Arena arena = Arena.ofConfined()) {
            int r = (int) RENAMEAT2.get().invokeExact(AT_FDCWD, arena.allocateFrom(a.toAbsolutePath().toString()),
                    AT_FDCWD, arena.allocateFrom(b.toAbsolutePath().toString()), RENAME_EXCHANGE);
            return r == 0;
        } catch (Throwable t) {
            // renameat2 failing leaves both paths as they were: the caller's two renames report any real error.
            return false;
        }
    }
}
