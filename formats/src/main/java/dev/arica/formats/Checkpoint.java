package dev.arica.formats;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.gguf.GgufCheckpoint;
import dev.arica.formats.gguf.GgufFile;
import dev.arica.formats.gptq.GptqCheckpoint;
import dev.arica.formats.hf.HfCheckpoint;
import dev.arica.formats.io.FileRange;
import dev.arica.formats.llama2c.Llama2cCheckpoint;
import dev.arica.formats.pytorch.PyTorchCheckpoint;
import dev.arica.formats.safetensors.SafetensorsFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A set of named tensors read from disk, with the files and configuration that go with them. Tensors
 * are views of mapped files: valid until {@link #close()}.
 */
public interface Checkpoint extends AutoCloseable {

    /** Format name as shown by inspect: "safetensors", "hf-directory", "pytorch", "llama2c", "gguf". */
    String format();

    /** The file or directory this was opened from. */
    Path path();

    /** Tensors in storage order. */
    List<TensorInfo> tensors();

    /** The tensor named {@code name}, its bytes mapped, never copied. */
    Tensor tensor(String name) throws IOException;

    /**
     * The same, for checkpoints that compute a tensor (a merged adapter): the memory it needs comes from {@code arena},
     * which the caller closes once the tensor is written, so that memory stays bounded by one tensor.
     */
    default Tensor tensor(String name, java.lang.foreign.Arena arena) throws IOException {
        return tensor(name);
    }

    /**
     * Where the named tensor's bytes lie in a file, when they are stored there contiguously and unchanged;
     * empty when the reader builds the tensor from other bytes (a row permutation, a decompression).
     */
    default Optional<FileRange> location(String name) {
        return Optional.empty();
    }

    /** String metadata (safetensors {@code __metadata__}). */
    Map<String, String> metadata();

    /** The model configuration (HF config.json) when there is one; a file of tensors alone has none. */
    default Optional<ObjectNode> config() {
        return Optional.empty();
    }

    /** Files that travel with the tensors: tokenizer, generation config; a file of tensors alone has none. */
    default List<AuxFile> auxFiles() {
        return List.of();
    }

    /** Files whose bytes hold the tensors, for provenance. */
    List<Path> dataFiles();

    @Override
    void close();

    default long parameterCount() {
        long n = 0;
        for (TensorInfo t : tensors()) {
            n = Math.addExact(n, t.elements());
        }
        return n;
    }

    default long dataBytes() {
        long n = 0;
        for (TensorInfo t : tensors()) {
            n = Math.addExact(n, t.byteSize());
        }
        return n;
    }

    /**
     * Opens a checkpoint of any supported format: an HF directory (a GPTQ one as the float model it stands for), a
     * {@code .safetensors} file, a PyTorch file (torch.save's zip or legacy format, told by its content whatever its
     * name), a GGUF file (told by its magic, or named {@code .gguf}), or a llama2.c {@code .bin} (its tokenizer looked up
     * beside it unless {@code tokenizer} is given).
     */
    static Checkpoint open(Path path, Path tokenizer) throws IOException {
        if (!Files.exists(path)) {
            throw new NoSuchFileException(path.toString());
        }
        if (Files.isDirectory(path)) {
            HfCheckpoint hf = HfCheckpoint.open(path);
            try {
                return GptqCheckpoint.of(hf);
            } catch (IOException | RuntimeException e) {
                hf.close();
                throw e;
            }
        }
        String name = path.getFileName().toString().toLowerCase(java.util.Locale.ROOT);
        if (name.endsWith(".gguf") || GgufFile.looksLikeGguf(path)) {
            return GgufCheckpoint.open(path);
        }
        if (name.endsWith(".safetensors")) {
            return SafetensorsFile.open(path);
        }
        if (SafetensorsFile.looksLikeSafetensors(path)) {
            return SafetensorsFile.open(path);
        }
        if (PyTorchCheckpoint.looksLikePyTorch(path)) {
            return PyTorchCheckpoint.open(path);
        }
        if (name.endsWith(".bin")) {
            if (looksLikePickle(path) && !Llama2cCheckpoint.looksLikeLlama2c(path)) {
                throw new FormatException(path, "a pickle, but not one torch.save wrote (neither its zip archive nor "
                        + "its legacy magic number): arica reads no other pickle");
            }
            // Anything else named .bin is read as llama2.c, whose header checks say precisely what is wrong.
            return Llama2cCheckpoint.open(path, tokenizer);
        }
        throw new FormatException(path, "unrecognised format: expected an HF directory, a .safetensors file, a "
                + "PyTorch file (torch.save), a GGUF file or a llama2.c .bin checkpoint");
    }

    /** A pickle starts with PROTO (0x80) and a protocol from 2 to 5. */
    private static boolean looksLikePickle(Path path) throws IOException {
        try (java.io.InputStream in = Files.newInputStream(path)) {
            byte[] head = in.readNBytes(2);
            return head.length == 2 && (head[0] & 0xff) == 0x80 && head[1] >= 2 && head[1] <= 5;
        }
    }

    static Checkpoint open(Path path) throws IOException {
        return open(path, null);
    }
}
