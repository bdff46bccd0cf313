package dev.arica.cli;

import static dev.arica.cli.CliTesting.assertBadInput;
import static dev.arica.cli.CliTesting.ok;
import static dev.arica.cli.CliTesting.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ShardSizeOptionTest {
    @TempDir
    Path tmp;

    @Test
    void commandsWithAFixedDefaultDocumentItAlike() {
        for (String command : List.of("convert", "merge-lora", "synth")) {
            // Whitespace folded: the help wraps long descriptions.
            String help = ok(command, "--help").out().replaceAll("\\s+", " ");
            assertTrue(help.contains(" --max-shard-size=SIZE Largest shard of a directory output, e.g. 5GB, 500MB, 2GiB "
                    + "(default: 5GB). "), () -> command + "\n" + help);
        }
    }

    @Test
    void aMalformedSizeIsRefusedAlikeByAllFour() {
        String out = tmp.resolve("out").toString();
        String missing = tmp.resolve("missing").toString();
        List<CliTesting.Run> runs = List.of(
                run("convert", missing, "-o", out, "--max-shard-size", "lots"),
                run("merge-lora", missing, missing, "-o", out, "--max-shard-size", "lots"),
                run("synth", "-o", out, "--max-shard-size", "lots"),
                run("upscale", missing, "-o", out, "--drop", "1", "--max-shard-size", "lots"));
        String first = assertBadInput(runs.getFirst(), "--max-shard-size: ", "lots");
        for (CliTesting.Run r : runs) {
            assertEquals(first, assertBadInput(r, "--max-shard-size: "), r::toString);
        }
    }
}
