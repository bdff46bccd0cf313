package dev.arica.upscale;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;

/** Read channels on the files tensors are copied from (the shards of a checkpoint), each opened once. */
final class SourceChannels implements AutoCloseable {
    private final Map<Path, FileChannel> open = new HashMap<>();

    FileChannel of(Path file) throws IOException {
        FileChannel c = open.get(file);
        if (c == null) {
            c = FileChannel.open(file, StandardOpenOption.READ);
            open.put(file, c);
        }
        return c;
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        for (FileChannel c : open.values()) {
            try {
                c.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        open.clear();
        if (first != null) {
            throw first;
        }
    }
}
