package dev.arica.fuzz;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.DType;
import dev.arica.formats.Progress;
import dev.arica.formats.gguf.GgmlType;
import dev.arica.formats.io.Json;
import dev.arica.formats.llama2c.Llama2cFixtures;
import dev.arica.formats.onnx.OnnxWriter;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.formats.testing.Stories260K;
import dev.arica.formats.testing.TestModels;
import dev.arica.formats.testing.TorchSave;
import dev.arica.quantize.CheckpointQuantizer;
import dev.arica.quantize.GgufExporter;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.testdata.SyntheticLlama;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Writes the seed corpora (valid files made by arica's own generators, small enough to fuzz fast) and the fixed
 * sibling files of the targets under src/test/resources/dev/arica/fuzz: {@code <Target>Inputs/<method>/seed-*} (Jazzer's
 * convention) and {@code siblings/<target>/}. Run by {@code bench/fuzz.sh seeds}; the result is checked in.
 */
public final class SeedCorpus {

    /** A Llama of 1 layer, hidden 8: a safetensors file of about 2 KB. */
    static final SyntheticLlama.Spec MICRO = new SyntheticLlama.Spec(8, 16, 1, 2, 2, 16, 16, true, DType.F32, 0.02, 1);
    /** Rows of 32, so that q8_0 and int4 have whole blocks to quantize. */
    static final SyntheticLlama.Spec SMALL = new SyntheticLlama.Spec(32, 64, 1, 2, 2, 32, 16, true, DType.F32, 0.02, 2);

    private final Path resources;
    private final Path work;

    private SeedCorpus(Path resources, Path work) {
        this.resources = resources;
        this.work = work;
    }

    public static void main(String[] args) throws IOException {
        Path resources = Path.of(args.length > 0 ? args[0] : "fuzz/src/test/resources").resolve("dev/arica/fuzz");
        Path work = Files.createTempDirectory("arica-seeds");
        SeedCorpus s = new SeedCorpus(resources, work);
        s.safetensors();
        s.hfIndex();
        s.configs();
        s.llama2c();
        s.arica();
        s.onnx();
        s.recurrentGenAi();
        s.hfTokenizers();
        s.gguf();
        s.pytorch();
        s.bundled();
    }

    private void seed(Class<?> target, String method, String name, byte[] bytes) throws IOException {
        Path dir = Files.createDirectories(resources.resolve(target.getSimpleName() + "Inputs").resolve(method));
        Files.write(dir.resolve("seed-" + name), bytes);
    }

    private void seedFile(Class<?> target, String method, String name, Path file) throws IOException {
        seed(target, method, name, Files.readAllBytes(file));
    }

    private void sibling(String target, String name, Path file) throws IOException {
        Path dir = Files.createDirectories(resources.resolve("siblings").resolve(target));
        Files.copy(file, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }

    private Path synth(String name, SyntheticLlama.Spec spec, long shard) throws IOException {
        Path dir = work.resolve(name);
        SyntheticLlama.write(dir, spec, shard, Progress.NONE);
        return dir;
    }

    private void safetensors() throws IOException {
        seedFile(SafetensorsFuzzTest.class, "safetensors", "f32", synth("st-f32", MICRO, Long.MAX_VALUE)
                .resolve("model.safetensors"));
        seedFile(SafetensorsFuzzTest.class, "safetensors", "bf16", synth("st-bf16", MICRO.withDtype(DType.BF16),
                Long.MAX_VALUE).resolve("model.safetensors"));
    }

    private void hfIndex() throws IOException {
        Path dir = synth("sharded", MICRO, 1024);
        try (Stream<Path> files = Files.list(dir)) {
            for (Path f : files.sorted().toList()) {
                String name = f.getFileName().toString();
                if (name.equals(HfIndexFuzzTest.INDEX)) {
                    seedFile(HfIndexFuzzTest.class, "index", "sharded", f);
                } else {
                    sibling("hf-index", name, f);
                }
            }
        }
    }

    private void configs() throws IOException {
        seed(ConfigFuzzTest.class, "config", "synthetic-llama",
                Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(SyntheticLlama.config(MICRO)));
        try (Stream<Path> models = Files.list(TestModels.root())) {
            for (Path m : models.sorted().toList()) {
                if (Files.isRegularFile(m.resolve("config.json"))) {
                    seedFile(ConfigFuzzTest.class, "config", m.getFileName().toString(), m.resolve("config.json"));
                }
            }
        }
    }

    private void llama2c() throws IOException {
        sibling("llama2c", "tok512.bin", Stories260K.tokenizer());
        seed(Llama2cFuzzTest.class, "checkpoint", "micro", Llama2cFixtures.checkpoint(8, 16, 1, 2, 2, Stories260K.VOCAB, 8, 7));
        seedFile(Llama2cTokenizerFuzzTest.class, "tokenizer", "tok512", Stories260K.tokenizer());
    }

    private void arica() throws IOException {
        Path dir = synth("arica", SMALL, Long.MAX_VALUE);
        try (Checkpoint in = Checkpoint.open(dir)) {
            for (Map.Entry<String, CheckpointQuantizer.Options> e : Map.of(
                    "q8_0", CheckpointQuantizer.Options.of(QuantLayout.of(Scheme.Q8_0)),
                    "int4-zstd", withZstd(CheckpointQuantizer.Options.of(new QuantLayout(Scheme.INT4, 32, true)))).entrySet()) {
                Path out = work.resolve(e.getKey() + ".arica");
                CheckpointQuantizer.quantize(in, out, e.getValue(), Progress.NONE);
                seedFile(AricaFuzzTest.class, "arica", e.getKey(), out);
            }
        }
    }

    private static CheckpointQuantizer.Options withZstd(CheckpointQuantizer.Options o) {
        return new CheckpointQuantizer.Options(o.layout(), o.selection(), o.floatType(), 3, o.user(), "seed", "", 1, null);
    }

    private void onnx() throws IOException {
        Path out = work.resolve("onnx");
        try (Checkpoint in = Checkpoint.open(synth("onnx-src", MICRO, Long.MAX_VALUE))) {
            // a low threshold, so that the micro model's initializers go to the external data file
            OnnxExporter.export(in, out, OnnxExporter.Options.defaults().withOnnx(new OnnxWriter.Options(64, 64)),
                    Progress.NONE);
        }
        try (Stream<Path> files = Files.list(out)) {
            for (Path f : files.sorted().toList()) {
                String name = f.getFileName().toString();
                if (name.equals(OnnxExporter.MODEL_FILE)) {
                    seedFile(OnnxFuzzTest.class, "model", "micro-llama", f);
                } else if (name.equals(OnnxExporter.GENAI_FILE)) {
                    seedFile(GenAiConfigFuzzTest.class, "genAiConfig", "micro-llama", f);
                    sibling("onnx", name, f);
                } else {
                    sibling("onnx", name, f);
                }
            }
        }
    }

    /** The recurrent model's arica-genai.json, which describes its state instead of a key-value cache. */
    private void recurrentGenAi() throws IOException {
        Path out = work.resolve("aricate-onnx");
        try (Checkpoint in = Checkpoint.open(TestModels.dir("tiny-aricate"))) {
            OnnxExporter.export(in, out, OnnxExporter.Options.defaults(), Progress.NONE);
        }
        seedFile(GenAiConfigFuzzTest.class, "genAiConfig", "tiny-aricate", out.resolve(OnnxExporter.GENAI_FILE));
    }

    private void hfTokenizers() throws IOException {
        Path tokenizers = TestModels.root().resolve("tokenizers");
        seedFile(HfTokenizerFuzzTest.class, "tokenizer", "unigram", tokenizers.resolve("unigram-small/tokenizer.json"));
        ObjectNode bpe = trimmed(tokenizers.resolve("gpt2/tokenizer.json"), 400);
        seed(HfTokenizerFuzzTest.class, "tokenizer", "bpe", Json.MAPPER.writeValueAsBytes(bpe));
        ObjectNode wordPiece = trimmed(tokenizers.resolve("all-minilm-l6-v2/tokenizer.json"), 1200);
        seed(HfTokenizerFuzzTest.class, "tokenizer", "wordpiece", Json.MAPPER.writeValueAsBytes(wordPiece));
        ObjectNode model = (ObjectNode) wordPiece.get("model");
        model.put("type", "WordLevel");
        model.remove(List.of("continuing_subword_prefix", "max_input_chars_per_word"));
        wordPiece.set("decoder", null);
        seed(HfTokenizerFuzzTest.class, "tokenizer", "wordlevel", Json.MAPPER.writeValueAsBytes(wordPiece));
    }

    /** A bundled tokenizer.json cut to its first {@code keep} ids, with the merges and added tokens among them. */
    private static ObjectNode trimmed(Path file, int keep) throws IOException {
        ObjectNode root = Json.readObjectFile(file);
        ObjectNode model = (ObjectNode) root.get("model");
        ObjectNode vocab = (ObjectNode) model.get("vocab");
        Set<String> kept = new HashSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = vocab.properties().iterator(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getValue().asInt() >= keep) {
                it.remove();
            } else {
                kept.add(e.getKey());
            }
        }
        if (model.get("merges") instanceof ArrayNode merges) {
            ArrayNode left = Json.MAPPER.createArrayNode();
            for (JsonNode m : merges) {
                String[] parts = m.isArray() ? new String[] {m.get(0).asText(), m.get(1).asText()} : m.asText().split(" ", 2);
                if (parts.length == 2 && kept.contains(parts[0]) && kept.contains(parts[1])
                        && kept.contains(parts[0] + parts[1])) {
                    left.add(m);
                }
            }
            model.set("merges", left);
        }
        if (root.get("added_tokens") instanceof ArrayNode added) {
            List<JsonNode> keepAdded = new ArrayList<>();
            added.forEach(t -> {
                if (t.get("id").asInt() < keep) {
                    keepAdded.add(t);
                }
            });
            root.set("added_tokens", Json.MAPPER.createArrayNode().addAll(keepAdded));
        }
        return root;
    }

    private void gguf() throws IOException {
        Path dir = Files.createDirectories(work.resolve("gguf"));
        Files.copy(Stories260K.tokenizer(), dir.resolve("tok512.bin"));
        // rows of 8 for f16, of 32 for whole q8_0 blocks
        for (Map.Entry<GgmlType, Integer> e : Map.of(GgmlType.F16, 8, GgmlType.Q8_0, 32).entrySet()) {
            int dim = e.getValue();
            Path model = Files.write(dir.resolve("micro" + dim + ".bin"), Llama2cFixtures.checkpoint(dim, 2 * dim, 1, 2, 2, Stories260K.VOCAB, 8, 7));
            try (Checkpoint in = Checkpoint.open(model)) {
                Path out = work.resolve("micro-" + e.getKey() + ".gguf");
                GgufExporter.export(in, out, GgufExporter.Options.of(e.getKey()), Progress.NONE);
                seedFile(GgufFuzzTest.class, "gguf", e.getKey().toString().toLowerCase(Locale.ROOT), out);
            }
        }
    }

    private void pytorch() throws IOException {
        ByteBuffer w = ByteBuffer.allocate(4 * 12).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 12; i++) {
            w.putFloat(i / 12f);
        }
        byte[] half = new byte[8];
        TorchSave save = new TorchSave()
                .tensor("model.embed_tokens.weight", TorchSave.StorageType.FLOAT, w.array(), 3, 4)
                .tensor("model.norm.weight", TorchSave.StorageType.HALF, half, 4);
        seed(PyTorchFuzzTest.class, "checkpoint", "zip", save.zip("archive"));
        seed(PyTorchFuzzTest.class, "checkpoint", "legacy", save.legacy());
        seed(PyTorchFuzzTest.class, "checkpoint", "state-dict", new TorchSave().moduleStateDict()
                .tensor("layer.weight", TorchSave.StorageType.BFLOAT16, half, 2, 2).zip("model"));
    }

    /** The bundled models' own small files: an adapter config, a GPTQ quantize_config, Aricate's vocabulary. */
    private void bundled() throws IOException {
        seedFile(AdapterFuzzTest.class, "adapterConfig", "tiny-gemma2-lora",
                TestModels.dir("tiny-gemma2-lora").resolve("adapter_config.json"));
        seedFile(GptqFuzzTest.class, "quantizeConfig", "tiny-falcon-gptq",
                TestModels.dir("tiny-falcon-gptq").resolve("quantize_config.json"));
        seedFile(AricateVocabFuzzTest.class, "vocab", "tiny-aricate", TestModels.dir("tiny-aricate").resolve("vocab.json"));
    }
}
