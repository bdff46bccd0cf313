package dev.arica.cli;

import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.testing.ReferenceModel;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

/**
 * forward and generate of a model through the command line, compared with a bundled reference: the largest logit
 * difference, and the greedy ids (prompts as ids: the reference checkpoints carry no tokenizer).
 *
 * @param work where the .npy files go
 * @param cache the export cache
 */
record ReferenceRuns(Path work, Path cache) {

    static String list(long[] ids) {
        return Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(","));
    }

    CliTesting.Run run(String command, Path model, String... args) {
        List<String> all = new ArrayList<>(List.of(command, model.toString(), "--cache-dir", cache.toString(), "--threads",
                "1", "--device", "cpu"));
        all.addAll(Arrays.asList(args));
        CliTesting.Run r = CliTesting.run(all.toArray(String[]::new));
        assertEquals(ExitCode.OK, r.exit(), r::toString);
        return r;
    }

    /** The largest difference between forward's logits over the reference ids and the reference logits. */
    double forwardError(ReferenceModel ref, Path model, String graph, String... extra) throws IOException {
        Path npy = work.resolve(model.getFileName() + "-" + graph + "-" + extra.length + ".npy");
        List<String> args = new ArrayList<>(List.of("--ids", list(ref.logitIds()), "-o", npy.toString(), "--graph", graph));
        args.addAll(Arrays.asList(extra));
        run("forward", model, args.toArray(String[]::new));
        ForwardCommandTest.Npy got = ForwardCommandTest.Npy.read(npy);
        return largestDifference(ref.logits(got.cols()), got);
    }

    /** The largest difference between {@code want} and the logits of {@code got}, which must have as many rows. */
    static double largestDifference(float[][] want, ForwardCommandTest.Npy got) {
        assertEquals(want.length, got.rows());
        double worst = 0;
        for (int t = 0; t < want.length; t++) {
            for (int v = 0; v < got.cols(); v++) {
                worst = Math.max(worst, Math.abs(want[t][v] - got.values()[t][v]));
            }
        }
        return worst;
    }

    long[] greedy(ReferenceModel ref, Path model, String... extra) throws IOException {
        long[] want = ref.greedyIds();
        List<String> args = new ArrayList<>(List.of("--ids", list(ref.promptIds()), "--max-new-tokens",
                Integer.toString(want.length - ref.promptIds().length), "--json"));
        args.addAll(Arrays.asList(extra));
        JsonNode j = run("generate", model, args.toArray(String[]::new)).json();
        long[] got = new long[j.get("ids").size()];
        for (int i = 0; i < got.length; i++) {
            got[i] = j.get("ids").get(i).longValue();
        }
        return got;
    }

}
