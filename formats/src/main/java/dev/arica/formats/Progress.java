package dev.arica.formats;

/** Receives progress of long operations; the library never prints. Implementations must be thread-safe. */
public interface Progress {
    Progress NONE = new Progress() {
        @Override
        public void start(String task, long totalBytes) {}

        @Override
        public void advance(long bytes) {}

        @Override
        public void finish() {}
    };

    void start(String task, long totalBytes);

    void advance(long bytes);

    void finish();
}
