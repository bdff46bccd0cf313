package dev.arica.formats.io;

import dev.arica.formats.CheckpointWriter;
import java.nio.file.Path;

/**
 * Where a tensor's bytes lie in a file, contiguous and exactly as the tensor holds them: lets a writer copy
 * them file to file in the kernel ({@link CheckpointWriter#transfer}) instead of through user space.
 *
 * @param offset from the start of the file
 */
public record FileRange(Path file, long offset, long length) {

    public FileRange {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("negative offset or length in " + file);
        }
    }
}
