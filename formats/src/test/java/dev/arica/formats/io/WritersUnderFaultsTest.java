package dev.arica.formats.io;

import static dev.arica.formats.TestSupport.listNames;
import static dev.arica.formats.TestSupport.randomBytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.AuxFile;
import dev.arica.formats.DType;
import dev.arica.formats.TensorInfo;
import dev.arica.formats.arica.AricaFile;
import dev.arica.formats.arica.AricaWriter;
import dev.arica.formats.arica.Storage;
import dev.arica.formats.gguf.GgmlType;
import dev.arica.formats.gguf.GgufKeyValues;
import dev.arica.formats.gguf.GgufWriter;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.hf.HfCheckpointWriter;
import dev.arica.formats.npy.NpyFloatWriter;
import dev.arica.formats.onnx.OnnxModel;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.safetensors.SafetensorsFile;
import dev.arica.formats.safetensors.SafetensorsWriter;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Every writer on a disk that fills up at several points of its output (nothing free, a third, two
 * thirds, one byte short): it fails with an {@link OutOfSpaceException} naming the destination, leaves no
 * temporary and keeps the old destination byte for byte; with exactly the room it needs it succeeds, so
 * the points above are inside the write and not before it.
 */
class WritersUnderFaultsTest {

    @TempDir
    Path tmp;

    private static final List<TensorInfo> TENSORS = List.of(
            new TensorInfo("a.weight", DType.F32, new long[] {64, 48}),
            new TensorInfo("b.weight", DType.F16, new long[] {100}),
            new TensorInfo("c.weight", DType.F32, new long[] {32, 32}));

    private static byte[] data(TensorInfo t) {
        return randomBytes(t.name().hashCode(), (int) t.byteSize());
    }

    /** Writes a valid output at a destination; checks it can be read back. */
    interface Write {
        void to(Path destination) throws IOException;
    }

    enum Writer {
        SAFETENSORS("m.safetensors", dest -> {
            try (SafetensorsWriter w = SafetensorsWriter.create(dest, TENSORS, Map.of("format", "pt"))) {
                for (TensorInfo t : TENSORS) {
                    w.begin(t.name());
                    w.write(MemorySegment.ofArray(data(t)));
                }
                w.commit();
            }
            try (SafetensorsFile f = SafetensorsFile.open(dest)) {
                assertEquals(TENSORS.size(), f.tensors().size());
            }
        }),
        HF_SHARDED("hf", dest -> {
            List<AuxFile> aux = List.of(AuxFile.of("tokenizer.json", "{\"model\":{}}".getBytes(StandardCharsets.UTF_8)));
            try (HfCheckpointWriter w = HfCheckpointWriter.create(dest, TENSORS, Map.of(),
                    dev.arica.formats.io.Json.MAPPER.createObjectNode().put("model_type", "llama"), aux, 10_000, true)) {
                assertTrue(w.shardCount() > 1, "several shards");
                for (TensorInfo t : TENSORS) {
                    w.begin(t.name());
                    w.write(MemorySegment.ofArray(data(t)));
                }
                w.commit();
            }
            try (HfCheckpoint c = HfCheckpoint.open(dest)) {
                assertEquals(TENSORS.size(), c.tensors().size());
            }
        }),
        ARICA_ZSTD("m.arica", dest -> {
            try (AricaWriter w = AricaWriter.create(dest)) {
                for (TensorInfo t : TENSORS) {
                    w.begin(t.name(), t.dtype(), t.shape(), new Storage.Plain(t.dtype()), t.dtype() == DType.F16 ? 3 : 0);
                    w.write(MemorySegment.ofArray(data(t)));
                    w.end();
                }
                w.addFile("tokenizer.json", "{}".getBytes(StandardCharsets.UTF_8));
                w.commit(null, null, Map.of());
            }
            try (AricaFile f = AricaFile.open(dest)) {
                assertEquals(TENSORS.size(), f.entries().size());
            }
        }),
        GGUF("m.gguf", dest -> {
            List<GgufWriter.Entry> entries = TENSORS.stream().map(t -> new GgufWriter.Entry(t.name(),
                    t.dtype() == DType.F16 ? GgmlType.F16 : GgmlType.F32, t.shape())).toList();
            try (GgufWriter w = GgufWriter.create(dest, entries, new GgufKeyValues().putString("general.architecture", "llama"))) {
                for (TensorInfo t : TENSORS) {
                    w.begin(t.name());
                    w.write(MemorySegment.ofArray(data(t)));
                }
                w.commit();
            }
        }),
        ONNX_EXTERNAL_DATA("m.onnx", dest -> {
            ModelProto model = ModelProto.newBuilder().setIrVersion(8).setGraph(GraphProto.newBuilder().setName("g"))
                    .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).build();
            try (OnnxWriter w = OnnxWriter.create(dest, model, TENSORS, OnnxWriter.Options.defaults())) {
                for (TensorInfo t : TENSORS) {
                    w.begin(t.name());
                    w.write(MemorySegment.ofArray(data(t)));
                }
                w.commit();
            }
            try (OnnxModel m = OnnxModel.open(dest)) {
                assertEquals(TENSORS.size(), m.initializers().size());
            }
        }),
        NPY("logits.npy", dest -> {
            try (AtomicOutput out = AtomicOutput.file(dest)) {
                try (NpyFloatWriter w = NpyFloatWriter.create(out.temp(), 40, 100)) {
                    for (int r = 0; r < 40; r++) {
                        w.writeRow(new float[100]);
                    }
                    w.finish();
                }
                out.commit();
            }
        }),
        REPORT("report.json", dest -> AtomicOutput.writeString(dest, "{\"ok\": true}\n".repeat(100)));

        final String name;
        final Write write;

        Writer(String name, Write write) {
            this.name = name;
            this.write = write;
        }
    }

    @ParameterizedTest
    @EnumSource(Writer.class)
    void aFullDiskFailsInOneLineAndKeepsTheOldDestination(Writer writer) throws Exception {
        long size;
        try (FullDisk room = FullDisk.withFree(Long.MAX_VALUE)) {
            writer.write.to(tmp.resolve("measure").resolve(writer.name));
            size = room.used();
        }
        assertTrue(size > 1000, "the output is big enough to fail inside: " + size);
        Path dir = tmp.resolve("faulty");
        Path dest = dir.resolve(writer.name);
        Files.createDirectories(dir);
        writeOld(dest, writer == Writer.HF_SHARDED);
        List<String> oldTree = tree(dir);
        for (long free : new long[] {0, size / 3, 2 * size / 3, size - 1}) {
            try (FullDisk disk = FullDisk.withFree(free)) {
                OutOfSpaceException e = assertThrows(OutOfSpaceException.class, () -> writer.write.to(dest),
                        writer + " with " + free + " of " + size + " bytes free");
                String m = e.getMessage();
                assertFalse(m.contains("\n"), m);
                assertTrue(m.startsWith(dest.toAbsolutePath().toString()), () -> "names the destination: " + m);
                assertTrue(m.contains("no space left on device"), m);
                assertTrue(e.written() <= free, () -> "holds at most what fitted: " + m);
                assertTrue(e.needed() == -1 || e.needed() > e.written() && e.needed() <= size, () -> "needs: " + m);
                assertEquals(FullDisk.ENOSPC, e.getCause().getMessage());
            }
            assertEquals(oldTree, tree(dir), () -> "with " + free + " bytes free the old destination and nothing else");
        }
        try (FullDisk exact = FullDisk.withFree(size)) {
            writer.write.to(dest);
        }
        assertEquals(listNames(tmp.resolve("measure")), listNames(dir), "the output and nothing else");
    }

    @Test
    void theNeededSizeIsTheOutputsSize() throws Exception {
        long size;
        try (FullDisk room = FullDisk.withFree(Long.MAX_VALUE)) {
            Writer.SAFETENSORS.write.to(tmp.resolve("measure.safetensors"));
            size = room.used();
        }
        try (FullDisk disk = FullDisk.withFree(size / 2)) {
            OutOfSpaceException e = assertThrows(OutOfSpaceException.class,
                    () -> Writer.SAFETENSORS.write.to(tmp.resolve("m.safetensors")));
            assertEquals(size, e.needed());
            assertEquals(size / 2, e.written());
            assertTrue(e.getMessage().contains("(" + size + " bytes)"), e.getMessage());
        }
    }

    @Test
    void temporariesOfDeadProcessesAreRemovedByTheNextOutput() throws Exception {
        Path dest = tmp.resolve("m.safetensors");
        long dead = deadPid();
        Path stale = tmp.resolve(".m.safetensors" + AtomicOutput.TEMP_MARK + dead + "-abc");
        Path staleDir = tmp.resolve(".m.safetensors" + AtomicOutput.TEMP_MARK + dead + "-old");
        Path live = tmp.resolve(".m.safetensors" + AtomicOutput.TEMP_MARK + ProcessHandle.current().pid() + "-def");
        Path other = tmp.resolve(".n.safetensors" + AtomicOutput.TEMP_MARK + dead + "-abc");
        Files.write(stale, new byte[10]);
        Files.createDirectories(staleDir.resolve("sub"));
        Files.write(live, new byte[10]);
        Files.write(other, new byte[10]);
        AtomicOutput.writeString(dest, "x");
        assertEquals(Stream.of(other.getFileName().toString(), live.getFileName().toString(), "m.safetensors").sorted()
                .toList(), listNames(tmp), "only the dead process's temporaries of this destination go");
    }

    @Test
    void aDirectoryFilledMeanwhileIsNotReplacedWithoutReplace() throws Exception {
        Path dest = tmp.resolve("out");
        try (AtomicOutput a = AtomicOutput.directory(dest, false)) {
            Files.writeString(a.temp().resolve("mine.txt"), "mine");
            // Another run publishes first.
            AtomicOutput.writeString(dest.resolve("theirs.txt"), "theirs");
            assertThrows(java.nio.file.DirectoryNotEmptyException.class, a::commit);
        }
        assertEquals(List.of("theirs.txt"), listNames(dest));
        assertEquals(List.of("out"), listNames(tmp));
    }

    @Test
    void aReplacedDirectoryIsSwappedInOneStepOnLinux() throws Exception {
        Path a = Files.createDirectories(tmp.resolve("a"));
        Path b = Files.createDirectories(tmp.resolve("b"));
        Files.writeString(a.resolve("new.txt"), "new");
        Files.writeString(b.resolve("old.txt"), "old");
        boolean linux = System.getProperty("os.name").toLowerCase(java.util.Locale.ROOT).contains("linux");
        assertEquals(linux, RenameExchange.swap(a, b), "renameat2(RENAME_EXCHANGE) is used where it exists");
        if (linux) {
            assertEquals(List.of("new.txt"), listNames(b));
            assertEquals(List.of("old.txt"), listNames(a));
        }
        Path out = tmp.resolve("out");
        Files.createDirectories(out);
        Files.writeString(out.resolve("previous.txt"), "previous");
        try (AtomicOutput o = AtomicOutput.directory(out, true)) {
            Files.writeString(o.temp().resolve("next.txt"), "next");
            o.commit();
        }
        assertEquals(List.of("next.txt"), listNames(out));
        assertEquals(List.of("a", "b", "out"), listNames(tmp), "the old output is removed");
    }

    @Test
    void anOutputUnderAFileIsRefusedNamingIt() throws Exception {
        Path file = tmp.resolve("plain");
        Files.writeString(file, "x");
        java.nio.file.FileAlreadyExistsException e = assertThrows(java.nio.file.FileAlreadyExistsException.class,
                () -> AtomicOutput.file(file.resolve("sub").resolve("m.safetensors")));
        assertEquals(file.toString(), e.getFile());
        assertEquals("is a file, not a directory", e.getReason());
    }

    @Test
    void fsyncCanBeSkippedForMeasurementsOnly() throws Exception {
        assertEquals("arica.fsync", AtomicOutput.FSYNC_PROPERTY);
        String before = System.getProperty(AtomicOutput.FSYNC_PROPERTY);
        System.setProperty(AtomicOutput.FSYNC_PROPERTY, "false");
        try {
            Writer.HF_SHARDED.write.to(tmp.resolve("nosync"));
        } finally {
            if (before == null) {
                System.clearProperty(AtomicOutput.FSYNC_PROPERTY);
            } else {
                System.setProperty(AtomicOutput.FSYNC_PROPERTY, before);
            }
        }
        assertEquals(List.of("nosync"), listNames(tmp));
    }

    @Test
    void outputsAreWrittenBackWhileTheyGrowAndForgottenOnceClosed() throws Exception {
        java.nio.channels.FileChannel written;
        try (AtomicOutput out = AtomicOutput.file(tmp.resolve("big.bin"))) {
            try (java.nio.channels.FileChannel ch = AtomicOutput.create(out.temp())) {
                written = ch;
                writeTwoSteps(ch);
                assertTrue(WriteBehind.watching(ch), "watched while open");
            }
            out.commit();
        }
        assertEquals(2 * WriteBehind.STEP, Files.size(tmp.resolve("big.bin")));
        long deadline = System.nanoTime() + 5_000_000_000L;
        while (WriteBehind.watching(written) && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertFalse(WriteBehind.watching(written), "a closed output is no longer watched");
    }

    @Test
    void aBackgroundFlushThatFailsFailsTheCommit() throws Exception {
        Path dest = tmp.resolve("big.bin");
        try (FullDisk disk = FullDisk.withFailingFlushes(); AtomicOutput out = AtomicOutput.file(dest)) {
            try (java.nio.channels.FileChannel ch = AtomicOutput.create(out.temp())) {
                writeTwoSteps(ch);
                long deadline = System.nanoTime() + 5_000_000_000L;
                while (WriteBehind.watching(ch) && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertTrue(ch.isOpen());
                assertFalse(WriteBehind.watching(ch), "the failed flush stopped watching the open file");
            }
            // The commit's own fsync opens the file anew and succeeds: only the recorded error can stop it.
            IOException e = assertThrows(IOException.class, out::commit);
            assertEquals(FullDisk.EIO, e.getMessage());
        }
        assertEquals(List.of(), listNames(tmp), "nothing published, no temporary");
    }

    private static void writeTwoSteps(java.nio.channels.FileChannel ch) throws IOException {
        java.nio.ByteBuffer chunk = java.nio.ByteBuffer.allocate(1 << 20);
        for (long n = 0; n < 2 * WriteBehind.STEP; n += chunk.capacity()) {
            TensorSequence.writeFully(ch, chunk.clear());
        }
    }

    private static long deadPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        long pid = p.pid();
        assertTrue(ProcessHandle.of(pid).isEmpty(), "the child is gone");
        return pid;
    }

    private static void writeOld(Path dest, boolean directory) throws IOException {
        if (directory) {
            Files.createDirectories(dest);
            Files.writeString(dest.resolve("old.txt"), "the previous output");
        } else {
            Files.writeString(dest, "the previous output");
        }
    }

    /** Every path under {@code dir} with the SHA-256 of each file. */
    private static List<String> tree(Path dir) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.naturalOrder()).toList()) {
                String rel = dir.relativize(p).toString();
                out.add(Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)
                        ? rel + " " + java.util.HexFormat.of().formatHex(sha256(Files.readAllBytes(p))) : rel + "/");
            }
        }
        return out;
    }

    private static byte[] sha256(byte[] b) {
        try {
            return java.security.MessageDigest.getInstance("SHA-256").digest(b);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
