package dev.arica.cli;

import dev.arica.runtime.validate.Thresholds;
import dev.arica.runtime.validate.ValidationReport;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * One run of {@code arica validate}, everything its table and its JSON object show: the two models, the
 * prompts as given, the settings, the report and the thresholds checked against it.
 *
 * @param prompts each prompt's text, or null where it was given as ids ({@code --ids})
 * @param textFile the text read teacher-forced ({@code --text}), or null for the reference's greedy sequences
 */
record ValidationRun(ModelInput ref, ModelInput cand, List<String> prompts, int maxNewTokens, Path textFile, String device,
                     int threads, ValidationReport report, List<Thresholds.Check> checks) {

    ValidationRun {
        prompts = Collections.unmodifiableList(new ArrayList<>(prompts));
        checks = List.copyOf(checks);
    }

    boolean passed() {
        return checks.stream().allMatch(Thresholds.Check::passed);
    }
}
