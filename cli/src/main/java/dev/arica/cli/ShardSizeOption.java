package dev.arica.cli;

import dev.arica.formats.io.ByteSize;
import picocli.CommandLine.Option;

/** {@code --max-shard-size SIZE}: the largest shard of a directory output, read and refused the same way everywhere. */
final class ShardSizeOption {
    @Option(names = "--max-shard-size", paramLabel = "SIZE", defaultValue = "5GB",
            description = "Largest shard of a directory output, e.g. 5GB, 500MB, 2GiB (default: ${DEFAULT-VALUE}).")
    String size;

    /** The size in bytes; a malformed one is the user's error, named by the option. */
    long bytes() {
        return parse(size);
    }

    /** {@code text} read as this option reads it: also for upscale's, whose default comes from its input. */
    static long parse(String text) {
        try {
            return ByteSize.parse(text);
        } catch (IllegalArgumentException e) {
            throw AricaException.badInput("--max-shard-size: " + e.getMessage());
        }
    }
}
