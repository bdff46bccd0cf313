package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.assertNothingWritten;
import static dev.arica.cli.CliTesting.names;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.cli.CliTesting.St;
import dev.arica.formats.Progress;
import dev.arica.formats.TestSupport;
import dev.arica.formats.testing.PickleWriter;
import dev.arica.formats.testing.Stories260K;
import dev.arica.formats.testing.TorchSave;
import dev.arica.formats.testing.TorchSave.StorageType;
import dev.arica.testdata.SyntheticLlama;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every bad input ends the same way: exit 2, one line "arica: ..." on stderr naming what is wrong, no stack
 * trace (unless --verbose), and nothing written: no output, no temporary, no new directory.
 */
class BadInputTest {

    @TempDir
    Path tmp;

    /** A valid model, for the cases where the output or an option is what is wrong. */
    private Path good;

    @BeforeEach
    void goodModel() throws IOException {
        good = tmp.resolve("good");
        SyntheticLlama.write(good, SyntheticLlama.Preset.TINY.spec(), Long.MAX_VALUE, Progress.NONE);
    }

    /** Runs {@code convert IN -o OUT extra...}, checks the failure, that tmp is as it was, and returns the message. */
    private String convertFails(Path in, Path out, String... extraAndMentions) throws IOException {
        int split = Arrays.asList(extraAndMentions).indexOf("--");
        String[] extra = split < 0 ? new String[0] : Arrays.copyOfRange(extraAndMentions, 0, split);
        String[] mentions = split < 0 ? extraAndMentions : Arrays.copyOfRange(extraAndMentions, split + 1, extraAndMentions.length);
        List<String> before = names(tmp);
        List<String> before2 = Files.isDirectory(out.getParent()) ? names(out.getParent()) : null;
        String[] args = new String[4 + extra.length];
        args[0] = "convert";
        args[1] = in.toString();
        args[2] = "-o";
        args[3] = out.toString();
        System.arraycopy(extra, 0, args, 4, extra.length);
        CliTesting.Run r = run(args);
        String line = assertBadInput(r, mentions);
        assertNothingWritten(out);
        assertEquals(before, names(tmp), "nothing created or removed beside the output");
        if (before2 != null) {
            assertEquals(before2, names(out.getParent()));
        }
        return line;
    }

    private static byte[] goodSafetensors() {
        return new St().f32("a.weight", new long[] {2, 2}, 1, 2, 3, 4).f32("b.weight", new long[] {3}, 5, 6, 7).bytes();
    }

    @Test
    void nonexistentInput() throws IOException {
        Path missing = tmp.resolve("no-such-model.safetensors");
        String line = convertFails(missing, tmp.resolve("out.safetensors"), missing.toString(), "no such file");
        assertEquals("arica: " + missing + ": no such file or directory", line);
        convertFails(tmp.resolve("no-such-dir"), tmp.resolve("out-dir"), "no-such-dir");
        assertBadInput(run("inspect", missing.toString()), missing.toString());
        assertBadInput(run("inspect", "--json", missing.toString()), missing.toString());
    }

    @Test
    void truncatedSafetensorsData() throws IOException {
        byte[] full = goodSafetensors();
        Path in = tmp.resolve("truncated.safetensors");
        Files.write(in, Arrays.copyOf(full, full.length - 3));
        // The last tensor runs past the end of the file: the message names the file and that tensor.
        String line = convertFails(in, tmp.resolve("out.safetensors"), in.toString(), "b.weight");
        assertTrue(line.contains("past the end"), line);
        assertBadInput(run("inspect", in.toString()), in.toString(), "b.weight");
        convertFails(in, tmp.resolve("out-dir"), in.toString());
    }

    @Test
    void truncatedSafetensorsHeader() throws IOException {
        Path in = tmp.resolve("cut.safetensors");
        Files.write(in, Arrays.copyOf(goodSafetensors(), 40));
        convertFails(in, tmp.resolve("out.safetensors"), in.toString(), "header");
        Path tiny = tmp.resolve("five-bytes.safetensors");
        Files.write(tiny, new byte[] {1, 2, 3, 4, 5});
        convertFails(tiny, tmp.resolve("out.safetensors"), tiny.toString());
    }

    @Test
    void truncatedShardOfAnHfDirectory() throws IOException {
        Path dir = tmp.resolve("sharded");
        SyntheticLlama.write(dir, SyntheticLlama.Preset.TINY.spec(), 100_000, Progress.NONE);
        Path shard = dir.resolve("model-00002-of-" + String.format("%05d", names(dir).stream()
                .filter(n -> n.startsWith("model-0")).count()) + ".safetensors");
        assertTrue(Files.isRegularFile(shard), shard::toString);
        byte[] b = Files.readAllBytes(shard);
        Files.write(shard, Arrays.copyOf(b, b.length - 100));
        convertFails(dir, tmp.resolve("out-dir"), shard.getFileName().toString());
    }

    @Test
    void badDtypeNamesTheTensor() throws IOException {
        Path in = new St()
                .f32("ok.weight", new long[] {2}, 1, 2)
                .tensor("model.layers.0.mlp.weird", "Q4_K", new long[] {4}, new byte[4])
                .write(tmp.resolve("bad-dtype.safetensors"));
        String line = convertFails(in, tmp.resolve("out.safetensors"), in.toString(), "model.layers.0.mlp.weird", "Q4_K");
        assertTrue(line.contains("dtype"), line);
        assertBadInput(run("inspect", "--json", in.toString()), in.toString(), "model.layers.0.mlp.weird");
    }

    /** --dtype casts floating-point tensors; a float type it cannot cast is refused up front, naming the tensor. */
    @Test
    void uncastableFloatTensorNamesTheTensor() throws IOException {
        ByteBuffer f64 = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(1.5).putDouble(-2.25);
        Path in = new St()
                .f32("a.weight", new long[] {2}, 1, 2)
                .tensor("b.double", "F64", new long[] {2}, f64.array())
                .write(tmp.resolve("f64.safetensors"));
        String line = convertFails(in, tmp.resolve("out.safetensors"), "--dtype", "f16", "--", in.toString(), "b.double", "F64", "F16");
        assertTrue(line.contains("not supported"), line);
        convertFails(in, tmp.resolve("out-dir"), "--dtype", "bf16", "--", in.toString(), "b.double");

        Path f8 = new St()
                .tensor("scales.f8", "F8_E4M3", new long[] {4}, new byte[] {0x38, 0x40, 0, (byte) 0xb8})
                .write(tmp.resolve("f8.safetensors"));
        convertFails(f8, tmp.resolve("out.safetensors"), "--dtype", "f32", "--", f8.toString(), "scales.f8", "F8_E4M3");
    }

    @Test
    void shapeAndOffsetsThatDisagreeNameTheTensor() throws IOException {
        Path in = new St()
                .tensor("w", "F32", new long[] {3}, new byte[8])
                .write(tmp.resolve("mismatch.safetensors"));
        convertFails(in, tmp.resolve("out.safetensors"), in.toString(), "'w'");
    }

    /** A broken PyTorch file: {@code fault} names how, the bytes follow torch.save's otherwise. */
    private static byte[] brokenPyTorchFile(String fault, Path marker) {
        byte[] pkl = new TorchSave().tensor("w", StorageType.FLOAT, TestSupport.f32(1, 2, 3), 3).dataPkl();
        Map<String, byte[]> storage = Map.of("0", TestSupport.f32(1, 2, 3));
        byte[] whole = TorchSave.zip("archive", pkl, storage);
        return switch (fault) {
            case "runs code" -> TorchSave.zip("archive", new PickleWriter().op(0x80, 2).global("os", "system")
                    .unicode("touch " + marker).op(0x85, 'R', '.').toByteArray(), Map.of());
            case "truncated" -> Arrays.copyOf(whole, whole.length - 30);
            case "lying size" -> TorchSave.zip("archive", pkl, Map.of("0", TestSupport.f32(1, 2)));
            case "lying length" -> TorchSave.zip("archive", new PickleWriter().op(0x80, 2, 'X').u32(0xfffffff0L)
                    .toByteArray(), Map.of());
            case "missing storage" -> TorchSave.zip("archive", pkl, Map.of());
            case "bad persistent id" -> TorchSave.zip("archive", new PickleWriter().op(0x80, 2).unicode("storage")
                    .op('Q', '.').toByteArray(), Map.of());
            case "unknown opcode" -> TorchSave.zip("archive", new PickleWriter().op(0x80, 2, 0x81, '.').toByteArray(),
                    Map.of());
            case "legacy truncated" -> {
                byte[] legacy = new TorchSave().tensor("w", StorageType.FLOAT, TestSupport.f32(1, 2, 3), 3).legacy();
                yield Arrays.copyOf(legacy, legacy.length - 2);
            }
            case "other pickle" -> PickleWriter.dump(Map.of("w", 1));
            default -> throw new IllegalArgumentException(fault);
        };
    }

    @ParameterizedTest
    @ValueSource(strings = {"runs code", "truncated", "lying size", "lying length", "missing storage", "bad persistent id",
        "unknown opcode", "legacy truncated", "other pickle"})
    void brokenPyTorchFilesAreRefusedInOneLine(String fault) throws IOException {
        Path marker = tmp.resolve("marker");
        Path in = tmp.resolve("pytorch_model.bin");
        Files.write(in, brokenPyTorchFile(fault, marker));
        String expected = switch (fault) {
            case "runs code" -> "asks for the global os.system";
            case "truncated" -> "no end-of-central-directory record";
            case "lying size" -> "tensor 'w': storage '0' holds 8 bytes, but its persistent id says 3 elements";
            case "lying length" -> "BINUNICODE needs 4294967280 bytes";
            case "missing storage" -> "tensor 'w': its storage '0' has no entry archive/data/0";
            case "bad persistent id" -> "persistent id 'storage' is not";
            case "unknown opcode" -> "opcode NEWOBJ (0x81) is not one arica runs";
            case "legacy truncated" -> "runs past the end";
            default -> "a pickle, but not one torch.save wrote";
        };
        String line = convertFails(in, tmp.resolve("out-dir"), in.toString(), expected);
        assertTrue(line.startsWith("arica: " + in + ": "), line);
        assertBadInput(run("inspect", in.toString()), in.toString(), expected);
        convertFails(in, tmp.resolve("out.safetensors"), in.toString(), expected);
        assertFalse(Files.exists(marker), "the pickle's command ran");
    }

    @Test
    void binThatIsNotLlama2c() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(64).putInt(172).putInt(5).putInt(8).putInt(4).putInt(512).putInt(512); // a real header, wrong size
        Path in = tmp.resolve("model.bin");
        Files.write(in, b.array());
        String line = convertFails(in, tmp.resolve("out-dir"), in.toString(), "llama2.c");
        assertTrue(line.contains("4096"), "says the file's size: " + line);

        Path garbage = tmp.resolve("garbage.bin");
        Files.write(garbage, "this is certainly not a checkpoint, just text\n".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        convertFails(garbage, tmp.resolve("out-dir"), garbage.toString(), "llama2.c");

        Path shortBin = tmp.resolve("short.bin");
        Files.write(shortBin, new byte[] {1, 2, 3});
        convertFails(shortBin, tmp.resolve("out-dir"), shortBin.toString());
    }

    @Test
    void badTokenizerOfALlama2cCheckpoint() throws IOException {
        Path bin = Files.copy(Stories260K.checkpoint(), tmp.resolve("stories260K.bin"));
        Path missing = tmp.resolve("no-tokenizer.bin");
        convertFails(bin, tmp.resolve("out-dir"), "--tokenizer", missing.toString(), "--", missing.toString(), "no such file");
        Path wrong = tmp.resolve("tok-wrong.bin");
        Files.write(wrong, new byte[] {16, 0, 0, 0, 0, 0, (byte) 0x80, 0x3f, 2, 0, 0, 0, 'h', 'i'});
        convertFails(bin, tmp.resolve("out-dir"), "--tokenizer", wrong.toString(), "--", wrong.toString(), "token");
        assertBadInput(run("inspect", bin.toString(), "--tokenizer", wrong.toString()), wrong.toString());
    }

    @Test
    void unrecognisedExtension() throws IOException {
        Path in = tmp.resolve("weights.h5");
        Files.write(in, "\211HDF\r\n\032\n\0\0\0\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        convertFails(in, tmp.resolve("out.safetensors"), in.toString(), "unrecognised format");
        // A GGUF file is recognised by its magic, and a truncated one refused as such.
        Path gguf = tmp.resolve("weights.gguf");
        Files.write(gguf, "GGUF\3\0\0\0".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        convertFails(gguf, tmp.resolve("out-gguf.safetensors"), gguf.toString(), "the file ends inside the tensor count");
    }

    @Test
    void directoryWithoutTensors() throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("just-config"));
        Files.writeString(dir.resolve("config.json"), "{}");
        convertFails(dir, tmp.resolve("out.safetensors"), dir.toString(), "model.safetensors");
    }

    @Test
    void malformedConfigJson() throws IOException {
        Path dir = tmp.resolve("bad-config");
        SyntheticLlama.write(dir, SyntheticLlama.Preset.TINY.spec(), Long.MAX_VALUE, Progress.NONE);
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 64,,}");
        convertFails(dir, tmp.resolve("out-dir"), "config.json");
    }

    @ParameterizedTest
    @ValueSource(strings = {"lots", "5XB", "-1GB", "0", "0.1"})
    void badMaxShardSize(String size) throws IOException {
        convertFails(good, tmp.resolve("out-dir"), "--max-shard-size", size, "--", "--max-shard-size", size);
        assertBadInput(run("synth", "-o", tmp.resolve("synth-out").toString(), "--max-shard-size", size), "--max-shard-size");
        assertNothingWritten(tmp.resolve("synth-out"));
    }

    @Test
    void badDtypeOption() throws IOException {
        convertFails(good, tmp.resolve("out.safetensors"), "--dtype", "f8", "--", "--dtype", "f8");
        convertFails(good, tmp.resolve("out.safetensors"), "--dtype", "i32", "--", "--dtype");
    }

    @Test
    void unknownOption() throws IOException {
        String line = convertFails(good, tmp.resolve("out.safetensors"), "--frobnicate", "--", "--frobnicate");
        assertTrue(line.contains("--help"), "points at the help: " + line);
        assertBadInput(run("inspect", "--frobnicate", good.toString()), "--frobnicate");
        assertBadInput(run("--frobnicate"), "--frobnicate");
    }

    @Test
    void unknownCommandAndNoCommand() {
        assertBadInput(run("frobnicate", "x"), "frobnicate");
        assertBadInput(run(), "command");
    }

    @Test
    void missingOutput() throws IOException {
        List<String> before = names(tmp);
        assertBadInput(run("convert", good.toString()), "--output");
        assertEquals(before, names(tmp));
        assertBadInput(run("convert", good.toString(), "-o"), "-o");
        assertEquals(before, names(tmp));
        assertBadInput(run("convert"), "IN");
        assertBadInput(run("inspect"), "PATH");
        assertBadInput(run("synth"), "--output");
    }

    @Test
    void outputIsTheInput() throws IOException {
        Path in = tmp.resolve("self.safetensors");
        Files.write(in, goodSafetensors());
        List<String> before = names(tmp);
        assertBadInput(run("convert", in.toString(), "-o", in.toString(), "--dtype", "f16"), in.toString());
        assertArrayEquals(goodSafetensors(), Files.readAllBytes(in), "the input is untouched");
        assertEquals(before, names(tmp));
    }

    @Test
    void outputDirectoryIsAFile() throws IOException {
        Path out = tmp.resolve("a-file");
        Files.writeString(out, "not a directory");
        List<String> before = names(tmp);
        assertBadInput(run("convert", good.toString(), "-o", out.toString()), out.toString());
        assertEquals("not a directory", Files.readString(out));
        assertEquals(before, names(tmp));
    }

    @Test
    void outputFileIsADirectory() throws IOException {
        Path out = Files.createDirectory(tmp.resolve("dir.safetensors"));
        List<String> before = names(tmp);
        assertBadInput(run("convert", good.toString(), "-o", out.toString()), out.toString(), "directory");
        assertTrue(Files.isDirectory(out));
        assertEquals(before, names(tmp));
    }

    @Test
    void existingNonEmptyOutputDirectoryWithoutForce() throws IOException {
        Path out = Files.createDirectory(tmp.resolve("taken"));
        Files.writeString(out.resolve("README"), "mine");
        List<String> before = names(tmp);
        String line = assertBadInput(run("convert", good.toString(), "-o", out.toString()), out.toString(), "--force");
        assertTrue(line.contains("not empty"), line);
        assertEquals(List.of("README"), names(out));
        assertEquals(before, names(tmp));
        assertBadInput(run("synth", "-o", out.toString(), "--preset", "nope"), "--preset", "nope");
    }

    @Test
    void synthBadOptions() throws IOException {
        assertBadInput(run("synth", "-o", tmp.resolve("s").toString(), "--preset", "huge"), "--preset", "huge");
        assertBadInput(run("synth", "-o", tmp.resolve("s").toString(), "--layers", "0"), "--layers");
        assertNothingWritten(tmp.resolve("s"));
    }

    @Test
    void verboseAddsTheStackTrace() throws IOException {
        Path in = tmp.resolve("truncated.safetensors");
        byte[] full = goodSafetensors();
        Files.write(in, Arrays.copyOf(full, full.length - 3));
        for (String[] args : List.of(
                new String[] {"convert", "--verbose", in.toString(), "-o", tmp.resolve("o.safetensors").toString()},
                new String[] {"--verbose", "convert", in.toString(), "-o", tmp.resolve("o.safetensors").toString()},
                new String[] {"inspect", in.toString(), "--verbose"})) {
            CliTesting.Run r = run(args);
            assertEquals(ExitCode.BAD_INPUT, r.exit(), r::toString);
            assertEquals("", r.out());
            String[] lines = r.err().split("\n");
            assertTrue(lines[0].startsWith("arica: " + in), r::toString);
            assertTrue(lines[0].contains("b.weight"), r::toString);
            assertTrue(lines.length > 3, () -> "a stack trace follows the message\n" + r);
            assertTrue(r.err().contains("FormatException"), r::toString);
            assertTrue(r.err().contains("\tat dev.arica."), r::toString);
            assertNothingWritten(tmp.resolve("o.safetensors"));
        }
        // The same failure without --verbose has no trace.
        assertBadInput(run("inspect", in.toString()), in.toString());
    }
}
