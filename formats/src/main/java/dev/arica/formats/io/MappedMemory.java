package dev.arica.formats.io;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

/**
 * Hints to the kernel about mapped file ranges. After a streaming pass has consumed a range of a
 * read-only mapping, {@link #release} drops its page-table entries (madvise MADV_DONTNEED): the data stays
 * in the page cache, but the process's resident size stays flat instead of growing to the file's size.
 * Without a usable madvise (not Linux, native access denied) the calls do nothing.
 */
public final class MappedMemory {
    private static final int MADV_DONTNEED = 4;
    private static final long PAGE = 4096;
    private static final Optional<MethodHandle> MADVISE = lookup();

    private MappedMemory() {}

    private static Optional<MethodHandle> lookup() {
        if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")
                || Boolean.getBoolean("arica.noMadvise")) {
            return Optional.empty();
        }
        try {
            Linker linker = Linker.nativeLinker();
            return linker.defaultLookup().find("madvise").map(addr -> linker.downcallHandle(addr,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG,
                            ValueLayout.JAVA_INT)));
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    /** Drops the resident pages that lie wholly inside {@code range} of a read-only file mapping. */
    public static void release(MemorySegment range) {
        if (MADVISE.isEmpty() || !range.isNative() || !range.isMapped() || range.byteSize() < PAGE) {
            return;
        }
        long start = (range.address() + PAGE - 1) & -PAGE;
        long end = (range.address() + range.byteSize()) & -PAGE;
        if (end <= start) {
            return;
        }
        try {
            int ignored = (int) MADVISE.get().invokeExact(MemorySegment.ofAddress(start), end - start, MADV_DONTNEED);
        } catch (Throwable t) {
            // A hint only: failing to drop pages changes resident size, never results.
        }
    }
}
