package dev.arica.cli;

import dev.arica.formats.arica.AricaFile;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code arica verify}: recompute every checksum of an .arica file and check its structure. */
@Command(name = "verify", mixinStandardHelpOptions = true, versionProvider = Cli.Version.class,
        description = {"Check an .arica file: header, trailer, index, structure, and every tensor's checksum.",
                "Exit 0 when sound, 1 when corrupt (naming the first bad tensor), 2 when it is not an .arica file."})
final class VerifyCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "FILE", description = "The .arica file.")
    Path file;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        Optional<AricaFile.Problem> problem;
        int tensors;
        try (AricaFile f = AricaFile.open(file)) {
            tensors = f.entries().size();
            problem = f.verify(ProgressPrinter.forStderr(spec.commandLine().getErr()));
        } catch (dev.arica.formats.FormatException e) {
            // A structural defect of a file that is an .arica file is corruption, not a usage error.
            if (AricaFile.looksLikeArica(file)) {
                throw new AricaException(ExitCode.FAILED, e.getMessage());
            }
            throw e;
        }
        if (problem.isPresent()) {
            throw new AricaException(ExitCode.FAILED, file + ": tensor '" + problem.get().tensor() + "': "
                    + problem.get().what());
        }
        out.printf("%s: OK, %d tensors, all checksums match%n", file, tensors);
        out.flush();
        return ExitCode.OK;
    }
}
