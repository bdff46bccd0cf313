package dev.arica.formats.io;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * The disk (or the user's quota) filled up while an output was written. Its message is one line naming
 * the destination, how many bytes the output held when the write failed and, when the writer declared
 * its size, how many it needs in all.
 */
public final class OutOfSpaceException extends FileSystemException {
    private static final long serialVersionUID = 1L;

    private final long written;
    private final long needed;

    OutOfSpaceException(Path destination, long written, long needed, IOException cause) {
        super(destination.toString(), null, reason(written, needed));
        this.written = written;
        this.needed = needed;
        initCause(cause);
    }

    /** Bytes the output held when the write failed. */
    public long written() {
        return written;
    }

    /** Bytes the whole output needs, or -1 when the writer could not know in advance (compression). */
    public long needed() {
        return needed;
    }

    private static String reason(long written, long needed) {
        String held = ByteSize.format(written) + " (" + written + " bytes)";
        if (needed < 0) {
            return "no space left on device after writing " + held;
        }
        return "no space left on device: the output needs " + ByteSize.format(needed) + " (" + needed
                + " bytes), " + held + " written, " + ByteSize.format(Math.max(0, needed - written)) + " more";
    }

    /** Whether {@code e} is the operating system's "disk full" or "quota exceeded" (ENOSPC, EDQUOT). */
    static boolean isOutOfSpace(IOException e) {
        String m = e.getMessage() == null ? "" : e.getMessage().toLowerCase(Locale.ROOT);
        return m.contains("no space left on device") || m.contains("disk quota exceeded")
                || m.contains("not enough space on the disk");
    }
}
