package dev.arica.cli;

import static dev.arica.cli.CliTesting.ok;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HelpAndVersionTest {

    @ParameterizedTest
    @ValueSource(strings = {"--version", "-V"})
    void version(String flag) {
        CliTesting.Run r = ok(flag);
        String[] lines = r.out().split("\n");
        assertTrue(lines[0].matches("arica \\d+\\.\\d+\\.\\d+(-SNAPSHOT)?"), () -> "version line\n" + r);
        assertFalse(r.out().contains("${"), "version resource is filtered by the build");
        assertTrue(r.out().contains("Java " + Runtime.version().feature()), r::toString);
        assertEquals(Cli.version(), lines[0].substring("arica ".length()));
    }

    @ParameterizedTest
    @ValueSource(strings = {"--help", "-h", "help"})
    void topLevelHelp(String flag) {
        CliTesting.Run r = ok(flag);
        String out = r.out();
        assertTrue(out.startsWith("Usage: arica "), out);
        for (String command : List.of("inspect", "convert", "generate", "validate", "forward", "upscale", "synth", "verify", "tokenize", "help")) {
            assertTrue(Pattern.compile("(?m)^\\s+" + command + "\\s").matcher(out).find(), () -> "lists " + command + "\n" + out);
        }
        assertTrue(out.contains("--verbose"), out);
        assertTrue(out.contains("--version"), out);
    }

    @ParameterizedTest
    @ValueSource(strings = {"inspect", "convert", "validate", "forward", "upscale", "synth", "verify", "tokenize"})
    void subcommandHelp(String command) {
        for (String[] args : List.of(new String[] {command, "--help"}, new String[] {command, "-h"},
                new String[] {"help", command})) {
            CliTesting.Run r = ok(args);
            assertTrue(r.out().startsWith("Usage: arica " + command), r::toString);
            assertTrue(r.out().contains("--verbose"), () -> "the inherited option is documented\n" + r);
        }
    }

    /** main builds only the subcommand it runs (picocli's model of all of them costs every run 0.4 s); the same one. */
    @Test
    void aNamedSubcommandIsTheOnlyOneBuiltAndTheSame() {
        java.io.PrintWriter none = new java.io.PrintWriter(java.io.OutputStream.nullOutputStream());
        picocli.CommandLine all = Cli.commandLine(none, none, "--help");
        assertTrue(all.getSubcommands().size() >= 15, () -> "every subcommand: " + all.getSubcommands().keySet());
        for (String command : all.getSubcommands().keySet()) {
            picocli.CommandLine one = Cli.commandLine(none, none, "--verbose", command, "some-input");
            if (command.equals("help")) {
                assertEquals(all.getSubcommands().keySet(), one.getSubcommands().keySet(), "help lists every command");
                continue;
            }
            assertEquals(java.util.Set.of(command), one.getSubcommands().keySet());
            assertEquals(all.getSubcommands().get(command).getUsageMessage(),
                    one.getSubcommands().get(command).getUsageMessage(), command);
        }
        assertEquals(all.getSubcommands().keySet(), Cli.commandLine(none, none, "no-such-command").getSubcommands().keySet(),
                "an unknown name gets every command, for picocli's suggestions");
    }

    @Test
    void convertHelpDocumentsItsOptions() {
        String out = ok("convert", "--help").out();
        for (String option : List.of("-o", "--output", "--dtype", "--max-shard-size", "--force", "--tokenizer", "IN")) {
            assertTrue(out.contains(option), () -> "mentions " + option + "\n" + out);
        }
        assertTrue(out.contains("5GB"), "shows the default shard size\n" + out);
    }

    @Test
    void inspectHelpDocumentsJson() {
        String out = ok("inspect", "--help").out();
        assertTrue(out.contains("--json"), out);
        assertTrue(out.contains("PATH"), out);
    }

    /** Every subcommand offers --version (from mixinStandardHelpOptions); it must print the version, not nothing. */
    @ParameterizedTest
    @ValueSource(strings = {"inspect", "convert", "validate", "forward", "upscale", "synth", "verify", "tokenize"})
    void subcommandVersion(String command) {
        CliTesting.Run r = ok(command, "--version");
        assertEquals(ok("--version").out(), r.out(), r::toString);
    }
}
