package dev.arica.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.gguf.GgmlType;
import dev.arica.formats.gguf.Gguf;
import dev.arica.formats.testing.GgufBuilder;
import dev.arica.formats.testing.Stories260K;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code inspect} of a GGUF file reads its header only: a 7B-shaped Q4_K file (3.9 GB) and a 70B-shaped F16 one
 * (138 GB), written as sparse files with a full 32,000-token vocabulary in their metadata, take the time of the 1 MB
 * stories260K file. The figures (median of 5 in-process runs after 5 warm-ups) are written to
 * {@code target/benchmarks/gguf-inspect.md}; docs/BENCHMARKS.md records them. With {@code -Darica.gguf.benchDir=DIR} the
 * files are written to DIR and kept, for timing {@code bin/arica inspect} itself (bench/gguf-inspect.sh).
 */
class GgufInspectTimeTest {

    @TempDir
    Path tmp;

    /** A Llama's tensors in GGUF's names and order, in {@code weights} (norms F32), laid out as llama.cpp does. */
    private static GgufBuilder llama(int hidden, int ffn, int layers, int heads, int kvHeads, GgmlType weights,
            GgmlType down) {
        int vocab = 32_000;
        List<String> tokens = new ArrayList<>();
        float[] scores = new float[vocab];
        int[] types = new int[vocab];
        for (int i = 0; i < vocab; i++) {
            tokens.add(i < 3 ? List.of("<unk>", "<s>", "</s>").get(i) : "\u2581piece" + i);
            scores[i] = -i;
            types[i] = i == 0 ? 2 : i < 3 ? 3 : 1;
        }
        GgufBuilder b = new GgufBuilder().string("general.architecture", "llama").u32("llama.embedding_length", hidden)
                .u32("llama.feed_forward_length", ffn).u32("llama.block_count", layers)
                .u32("llama.attention.head_count", heads).u32("llama.attention.head_count_kv", kvHeads)
                .u32("llama.context_length", 4096).f32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
                .string("tokenizer.ggml.model", "llama").strings("tokenizer.ggml.tokens", tokens)
                .floats("tokenizer.ggml.scores", scores).ints("tokenizer.ggml.token_type", types)
                .u32("tokenizer.ggml.bos_token_id", 1).u32("tokenizer.ggml.eos_token_id", 2);
        long kv = (long) hidden / heads * kvHeads;
        long[] offset = {0};
        Layout put = (name, type, dims) -> {
            b.tensorAt(name, type.id(), dims, offset[0]);
            offset[0] = Gguf.align(offset[0] + type.bytes(Arrays.stream(dims).reduce(1, Math::multiplyExact)),
                    Gguf.DEFAULT_ALIGNMENT);
        };
        put.add("token_embd.weight", weights, new long[] {hidden, vocab});
        for (int l = 0; l < layers; l++) {
            String p = "blk." + l + ".";
            put.add(p + "attn_norm.weight", GgmlType.F32, new long[] {hidden});
            put.add(p + "attn_q.weight", weights, new long[] {hidden, hidden});
            put.add(p + "attn_k.weight", weights, new long[] {hidden, kv});
            put.add(p + "attn_v.weight", weights, new long[] {hidden, kv});
            put.add(p + "attn_output.weight", weights, new long[] {hidden, hidden});
            put.add(p + "ffn_norm.weight", GgmlType.F32, new long[] {hidden});
            put.add(p + "ffn_gate.weight", weights, new long[] {hidden, ffn});
            put.add(p + "ffn_up.weight", weights, new long[] {hidden, ffn});
            put.add(p + "ffn_down.weight", down, new long[] {ffn, hidden});
        }
        put.add("output_norm.weight", GgmlType.F32, new long[] {hidden});
        put.add("output.weight", down, new long[] {hidden, vocab});
        return b.sparseData(offset[0]);
    }

    private interface Layout {
        void add(String name, GgmlType type, long[] dims);
    }

    /** Median seconds of 5 in-process {@code inspect --json} runs after 5 warm-ups, and the last run's report. */
    private static double inspectSeconds(Path file, JsonNode[] report) {
        double[] s = new double[10];
        for (int i = 0; i < s.length; i++) {
            long t0 = System.nanoTime();
            CliTesting.Run r = CliTesting.run("inspect", file.toString(), "--json");
            s[i] = (System.nanoTime() - t0) / 1e9;
            assertEquals(ExitCode.OK, r.exit(), r::toString);
            report[0] = r.json();
        }
        double[] timed = Arrays.copyOfRange(s, 5, s.length);
        Arrays.sort(timed);
        return timed[timed.length / 2];
    }

    @Test
    void inspectTimeDoesNotGrowWithTheModel() throws Exception {
        Path dir = System.getProperty("arica.gguf.benchDir") == null ? tmp : Path.of(System.getProperty("arica.gguf.benchDir"));
        Files.createDirectories(dir);
        String fs = Files.getFileStore(dir).type();
        Assumptions.assumeTrue(Set.of("ext4", "xfs", "btrfs", "tmpfs", "zfs", "f2fs", "apfs").contains(fs),
                "sparse files on " + fs);
        Path small = Stories260K.gguf("q8_0");
        Path q4k = llama(4096, 11008, 32, 32, 32, GgmlType.Q4_K, GgmlType.Q6_K).writeSparse(dir.resolve("7b-q4_k.gguf"));
        Path f16 = llama(8192, 28672, 80, 64, 8, GgmlType.F16, GgmlType.F16).writeSparse(dir.resolve("70b-f16.gguf"));
        JsonNode[] report = new JsonNode[1];
        StringBuilder table = new StringBuilder("| file | size | tensors | inspect --json (median of 5, in-process) |\n"
                + "| --- | --- | --- | --- |\n");
        List<Double> times = new ArrayList<>();
        for (Path p : List.of(small, q4k, f16)) {
            double t = inspectSeconds(p, report);
            times.add(t);
            assertEquals("llama", report[0].get("family").get("id").asText(), p.toString());
            table.append(String.format(Locale.ROOT, "| %s | %,d bytes | %d | %.1f ms |%n", p.getFileName(), Files.size(p),
                    report[0].get("tensors").size(), t * 1000));
        }
        assertEquals(723, report[0].get("tensors").size(), "the 70B report is complete");
        Path out = Path.of("target", "benchmarks");
        Files.createDirectories(out);
        Files.writeString(out.resolve("gguf-inspect.md"), table);
        // Sizes from 1 MB to 138 GB: the time follows the header (tensor count, vocabulary), not the data.
        assertTrue(times.get(2) < 20 * times.get(0) + 0.5, table::toString);
        assertTrue(Files.size(f16) > 100_000_000_000L, "a 70B-sized file");
    }
}
