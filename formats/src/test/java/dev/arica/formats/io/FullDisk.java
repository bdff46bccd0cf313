package dev.arica.formats.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A disk with room for a fixed number of bytes, for every output file opened through
 * {@link AtomicOutput#create} while it is installed: a write that does not fit writes what fits, the next
 * one fails with the operating system's words for ENOSPC, as {@code FileChannel} reports a full disk.
 * Counts only bytes that grow a file (rewrites in place are free), like a real file system. Or a disk whose
 * flushes fail, as write-back errors (EIO) surface. Installed
 * for the whole JVM (writers may write from worker threads), so tests using it must not run in parallel.
 */
public final class FullDisk implements AutoCloseable {

    /** What the JDK's {@code FileChannel} says when write(2) fails with ENOSPC on Linux. */
    public static final String ENOSPC = "No space left on device";

    /** What the JDK says when fsync(2) fails with EIO (a write-back error). */
    public static final String EIO = "Input/output error";

    private final AtomicLong free;
    private final AtomicLong used = new AtomicLong();
    /** The error every flush of a file opened through this disk fails with; null: flushes succeed. */
    private final String flushError;

    private FullDisk(long free, String flushError) {
        this.free = new AtomicLong(free);
        this.flushError = flushError;
    }

    /** Installs a disk with room for {@code bytes}; close to give back the real one. */
    public static FullDisk withFree(long bytes) {
        return install(new FullDisk(bytes, null));
    }

    /** Installs a disk with room for everything whose flushes (fsync, fdatasync) fail with EIO. */
    public static FullDisk withFailingFlushes() {
        return install(new FullDisk(Long.MAX_VALUE, EIO));
    }

    private static FullDisk install(FullDisk d) {
        AtomicOutput.opener = file -> d.new Limited(AtomicOutput.DEFAULT_OPENER.open(file));
        return d;
    }

    /** Bytes written so far through this disk. */
    public long used() {
        return used.get();
    }

    @Override
    public void close() {
        AtomicOutput.opener = AtomicOutput.DEFAULT_OPENER;
    }

    /** Takes up to {@code wanted} bytes of the free space; throws when none is left. */
    private long take(long wanted) throws IOException {
        while (true) {
            long f = free.get();
            long n = Math.min(f, wanted);
            if (n == 0 && wanted > 0) {
                throw new IOException(ENOSPC);
            }
            if (free.compareAndSet(f, f - n)) {
                used.addAndGet(n);
                return n;
            }
        }
    }

    /** A file channel whose growth is charged to the disk. */
    private final class Limited extends FileChannel {
        private final FileChannel file;

        Limited(FileChannel file) {
            this.file = file;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            return write(src, file.position(), true);
        }

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            return write(src, position, false);
        }

        private int write(ByteBuffer src, long position, boolean advance) throws IOException {
            long growth = Math.max(0, position + src.remaining() - file.size());
            long room = take(growth);
            int n = (int) (src.remaining() - (growth - room));
            ByteBuffer part = src.duplicate().limit(src.position() + n);
            int written = advance ? file.write(part) : file.write(part, position);
            src.position(src.position() + written);
            return written;
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            long n = 0;
            for (int i = offset; i < offset + length; i++) {
                n += write(srcs[i]);
            }
            return n;
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) throws IOException {
            ByteBuffer b = ByteBuffer.allocate((int) Math.min(count, 1 << 16));
            long done = 0;
            while (done < count) {
                b.clear().limit((int) Math.min(b.capacity(), count - done));
                if (src.read(b) <= 0) {
                    break;
                }
                b.flip();
                while (b.hasRemaining()) {
                    done += write(b, position + done);
                }
            }
            return done;
        }

        @Override
        public int read(ByteBuffer dst) throws IOException {
            return file.read(dst);
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) throws IOException {
            return file.read(dsts, offset, length);
        }

        @Override
        public int read(ByteBuffer dst, long position) throws IOException {
            return file.read(dst, position);
        }

        @Override
        public long position() throws IOException {
            return file.position();
        }

        @Override
        public FileChannel position(long newPosition) throws IOException {
            file.position(newPosition);
            return this;
        }

        @Override
        public long size() throws IOException {
            return file.size();
        }

        @Override
        public FileChannel truncate(long size) throws IOException {
            file.truncate(size);
            return this;
        }

        @Override
        public void force(boolean metaData) throws IOException {
            if (flushError != null) {
                throw new IOException(flushError);
            }
            file.force(metaData);
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
            return file.transferTo(position, count, target);
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
            throw new UnsupportedOperationException("outputs are written, not mapped");
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) throws IOException {
            return file.lock(position, size, shared);
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) throws IOException {
            return file.tryLock(position, size, shared);
        }

        @Override
        protected void implCloseChannel() throws IOException {
            file.close();
        }
    }
}
