package dev.arica.formats.npy;

import dev.arica.formats.io.AtomicOutput;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * Writes a NumPy {@code .npy} file (format version 1.0) holding a [rows, cols] array of little-endian
 * float32 values in C order, one row at a time: the header states the shape up front, so the array is
 * never held whole. The header is {@code {'descr': '<f4', 'fortran_order': False, 'shape': (rows, cols), }}
 * padded with spaces and ended by a newline so that the data starts at a multiple of {@value #ALIGNMENT}
 * bytes, as NumPy writes it.
 */
public final class NpyFloatWriter implements AutoCloseable {

    /** The data starts at a multiple of this many bytes (NumPy's ARRAY_ALIGN). */
    public static final int ALIGNMENT = 64;
    /** "\x93NUMPY", major version 1, minor version 0. */
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};

    private final Path file;
    private final FileChannel channel;
    private final int rows;
    private final ByteBuffer row;
    private int written;

    private NpyFloatWriter(Path file, FileChannel channel, int rows, int cols) {
        this.file = file;
        this.channel = channel;
        this.rows = rows;
        this.row = ByteBuffer.allocate(Math.multiplyExact(cols, Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Creates {@code file}, which must not exist, and writes the header of a [rows, cols] float32 array. */
    public static NpyFloatWriter create(Path file, int rows, int cols) throws IOException {
        if (rows < 0 || cols < 0) {
            throw new IllegalArgumentException("negative shape [" + rows + ", " + cols + "]");
        }
        FileChannel ch = AtomicOutput.create(file);
        try {
            NpyFloatWriter w = new NpyFloatWriter(file, ch, rows, cols);
            w.writeFully(ByteBuffer.wrap(header(rows, cols)));
            return w;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /**
     * The magic, version, header length and header of a float32 array of {@code shape} in C order: the
     * bytes before the data, a multiple of {@value #ALIGNMENT} long.
     */
    public static byte[] header(long... shape) {
        String dims = Arrays.stream(shape).mapToObj(Long::toString).collect(Collectors.joining(", "));
        // A one-element tuple is written "(n,)", as Python's repr does.
        String tuple = "(" + dims + (shape.length == 1 ? ",)" : ")");
        String dict = "{'descr': '<f4', 'fortran_order': False, 'shape': " + tuple + ", }";
        int unpadded = MAGIC.length + Short.BYTES + dict.length() + 1;
        int total = (unpadded + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
        int headerLength = total - MAGIC.length - Short.BYTES;
        if (headerLength > 0xFFFF) {
            throw new IllegalArgumentException("an .npy 1.0 header holds at most 65535 bytes, the shape needs " + headerLength);
        }
        ByteBuffer b = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putShort((short) headerLength).put(dict.getBytes(StandardCharsets.US_ASCII));
        while (b.remaining() > 1) {
            b.put((byte) ' ');
        }
        b.put((byte) '\n');
        return b.array();
    }

    /** Appends the next row ({@code cols} values). */
    public void writeRow(float[] values) throws IOException {
        if (values.length * Float.BYTES != row.capacity()) {
            throw new IllegalArgumentException(file + ": a row of " + values.length + " values, the array has "
                    + row.capacity() / Float.BYTES + " columns");
        }
        if (written == rows) {
            throw new IllegalStateException(file + ": all " + rows + " rows are already written");
        }
        row.clear();
        row.asFloatBuffer().put(values);
        writeFully(row);
        written++;
    }

    /** Rows written so far. */
    public int rowsWritten() {
        return written;
    }

    /** Checks that every row was written, then closes: the file is complete. */
    public void finish() throws IOException {
        if (written != rows) {
            throw new IllegalStateException(file + ": " + written + " of " + rows + " rows written");
        }
        close();
    }

    /** Closes the file, complete or not ({@link #finish()} is the successful end). */
    @Override
    public void close() throws IOException {
        channel.close();
    }

    private void writeFully(ByteBuffer b) throws IOException {
        try {
            while (b.hasRemaining()) {
                channel.write(b);
            }
        } catch (IOException e) {
            throw AtomicOutput.explain(file, e);
        }
    }
}
