package dev.arica.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.util.passthrough.PassthroughNDManager;
import dev.arica.formats.Progress;
import dev.arica.formats.Tensor;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.safetensors.SafetensorsFile;
import dev.arica.testdata.SyntheticLlama;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.foreign.MemorySegment;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Reads every byte of a safetensors file through arica's mmap reader or through DJL, once per JVM, and
 * prints one {@code RESULT} line: time, peak heap, peak anonymous RSS, the checksum of the bytes, or the
 * error. {@code bench/safetensors-read.sh} runs it in fresh JVMs and turns the lines into a table.
 *
 * <pre>
 * SafetensorsReadBench arica FILE          read with SafetensorsFile.open (mmap)
 * SafetensorsReadBench djl FILE            read with DJL: NDList.decode(PassthroughNDManager.INSTANCE, stream)
 * SafetensorsReadBench djl-capped FILE     the same, the stream handing out at most 1 MiB per read()
 * SafetensorsReadBench generate DIR N      write DIR/model.safetensors: the BENCH preset with N layers, f32
 * SafetensorsReadBench table RESULTS       RESULT lines (also "cat" ones from the script) as a markdown table
 * </pre>
 */
public final class SafetensorsReadBench {

    private SafetensorsReadBench() {}

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            usage();
        }
        switch (args[0]) {
            case "arica" -> System.out.println(measure("arica", Path.of(args[1]), SafetensorsReadBench::readArica));
            case "djl" -> System.out.println(measure("djl", Path.of(args[1]), SafetensorsReadBench::readDjl));
            case "djl-capped" -> System.out.println(
                    measure("djl-capped", Path.of(args[1]), SafetensorsReadBench::readDjlCapped));
            case "generate" -> {
                if (args.length != 3) {
                    usage();
                }
                System.out.println(generate(Path.of(args[1]), Integer.parseInt(args[2])));
            }
            case "table" -> System.out.print(ResultTable.render(Files.readAllLines(Path.of(args[1]))));
            default -> usage();
        }
    }

    private static void usage() {
        System.err.println("usage: SafetensorsReadBench (arica|djl) FILE | generate DIR LAYERS | table RESULTS");
        System.exit(2);
    }

    /** Writes the BENCH preset with {@code layers} layers as one f32 file; returns its path. */
    static Path generate(Path dir, int layers) throws IOException {
        SyntheticLlama.Spec spec = SyntheticLlama.Preset.BENCH.spec().withLayers(layers);
        SyntheticLlama.write(dir, spec, Long.MAX_VALUE, Progress.NONE);
        Path file = dir.resolve("model.safetensors");
        if (!Files.isRegularFile(file)) {
            throw new IOException("expected " + file + " after writing a single-file checkpoint");
        }
        return file;
    }

    /** What a reader found: the checksum of all tensor bytes, how many, and when loading ended. */
    record Read(long checksum, long tensorBytes, int tensors, long loadedNanos, long liveHeap) {}

    @FunctionalInterface
    interface Reader {
        /** Reads every byte of {@code file}. */
        Read read(Path file) throws Exception;
    }

    /** arica: map the file, fold every tensor's bytes straight from the mapping. */
    static Read readArica(Path file) throws IOException {
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            long loaded = System.nanoTime();
            long acc = 0;
            long bytes = 0;
            for (TensorInfo t : f.tensors()) {
                Tensor tensor = f.tensor(t.name());
                for (MemorySegment part : tensor.parts()) {
                    acc = XorFold.combine(acc, XorFold.fold(part), part.byteSize());
                    bytes += part.byteSize();
                }
            }
            return new Read(acc, bytes, f.tensors().size(), loaded, MemoryWatch.heapUsed());
        }
    }

    /**
     * DJL (ai.djl:api, no engine): {@code NDList.decode(PassthroughNDManager.INSTANCE, InputStream)} reads
     * the header and then the whole data section into one heap byte[]; each NDArray wraps a slice of it.
     */
    static Read readDjl(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return readDjl(in);
        }
    }

    /**
     * DJL's best case: the same call, but the stream never reads more than 1 MiB at once. DJL asks for the
     * whole data section in one {@code readFully}; the JDK serves one huge read of a heap array through a
     * native buffer of the same size (NIO's temporary direct buffer, FileInputStream's malloc), which
     * doubles the memory and the page faults. Capping the read size avoids that; the heap copy remains.
     */
    static Read readDjlCapped(Path file) throws IOException {
        try (InputStream in = new CappedInputStream(Files.newInputStream(file), 1 << 20)) {
            return readDjl(in);
        }
    }

    private static Read readDjl(InputStream in) {
        NDList list = NDList.decode(PassthroughNDManager.INSTANCE, in);
        long loaded = System.nanoTime();
        long acc = 0;
        long bytes = 0;
        for (NDArray a : list) {
            ByteBuffer bb = a.toByteBuffer();
            MemorySegment seg = MemorySegment.ofBuffer(bb);
            acc = XorFold.combine(acc, XorFold.fold(seg), seg.byteSize());
            bytes += seg.byteSize();
        }
        return new Read(acc, bytes, list.size(), loaded, MemoryWatch.heapUsed());
    }

    /** Hands out at most {@code cap} bytes per read. */
    static final class CappedInputStream extends FilterInputStream {
        private final int cap;

        CappedInputStream(InputStream in, int cap) {
            super(in);
            this.cap = cap;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            return in.read(b, off, Math.min(len, cap));
        }
    }

    static String measure(String reader, Path file, Reader r) throws IOException {
        Map<String, String> out = new LinkedHashMap<>();
        out.put("reader", reader);
        out.put("file", label(file));
        long size = Files.size(file);
        out.put("bytes", Long.toString(size));
        out.put("xmx", xmx());
        System.gc();
        long start;
        try (MemoryWatch watch = new MemoryWatch()) {
            start = System.nanoTime();
            try {
                Read read = r.read(file);
                long end = System.nanoTime();
                out.put("ok", "true");
                out.put("seconds", secs(end - start));
                out.put("load_seconds", secs(read.loadedNanos() - start));
                out.put("tensors", Integer.toString(read.tensors()));
                out.put("tensor_bytes", Long.toString(read.tensorBytes()));
                out.put("checksum", String.format("%016x", read.checksum()));
                out.put("live_heap", Long.toString(read.liveHeap()));
            } catch (Exception | OutOfMemoryError e) {
                long end = System.nanoTime();
                out.put("ok", "false");
                out.put("seconds", secs(end - start));
                out.put("error", oneLine(e));
                Throwable root = e;
                while (root.getCause() != null && root.getCause() != root) {
                    root = root.getCause();
                }
                if (root != e) {
                    out.put("root_cause", oneLine(root));
                }
                PrintStream err = System.err;
                err.println("[" + reader + " on " + label(file) + ", -Xmx" + out.get("xmx") + "] failed:");
                e.printStackTrace(err);
            }
            out.put("peak_heap", Long.toString(watch.peakHeap()));
            out.put("peak_anon_rss", Long.toString(watch.peakAnonRss()));
            out.put("peak_rss", Long.toString(MemoryWatch.peakRss()));
        }
        return ResultTable.format(out);
    }

    /** The file's name with its folder's, since every generated file is called model.safetensors. */
    static String label(Path file) {
        Path abs = file.toAbsolutePath();
        Path parent = abs.getParent();
        return parent == null || parent.getFileName() == null ? abs.getFileName().toString()
                : parent.getFileName() + "/" + abs.getFileName();
    }

    private static String secs(long nanos) {
        return String.format(Locale.ROOT, "%.3f", nanos / 1e9);
    }

    private static String oneLine(Throwable t) {
        String s = t.getClass().getName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
        return s.replace('\t', ' ').replace('\n', ' ');
    }

    /** The -Xmx the JVM was started with, or its max heap when none was given. */
    static String xmx() {
        List<String> args = new ArrayList<>(ManagementFactory.getRuntimeMXBean().getInputArguments());
        for (int i = args.size() - 1; i >= 0; i--) {
            if (args.get(i).startsWith("-Xmx")) {
                return args.get(i).substring(4);
            }
        }
        return (Runtime.getRuntime().maxMemory() >> 20) + "m";
    }
}
