package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.Progress;
import dev.arica.formats.testing.ReferenceModel;
import dev.arica.runtime.export.OnnxExporter.Flavour;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The reference checkpoints of the families (Gemma-2, Falcon, GPT-2), exported in both flavours: teacher-forced
 * logits within 1e-4 of the references computed from transformers' semantics, and greedy ids equal.
 */
class FamilyReferenceTest {

    @TempDir
    static Path tmp;

    static Stream<Arguments> cases() {
        return Stream.of("tiny-gemma2", "tiny-falcon", "tiny-gpt2")
                .flatMap(m -> Stream.of(Flavour.values()).map(f -> Arguments.of(m, f)));
    }

    static Path export(String model, Flavour flavour) throws Exception {
        Path out = tmp.resolve(model + "-" + flavour.id);
        if (!Files.exists(out)) {
            try (Checkpoint c = Checkpoint.open(new ReferenceModel(model).dir())) {
                OnnxExporter.export(c, out, OnnxExporter.Options.defaults().withFlavour(flavour), Progress.NONE);
            }
        }
        return out;
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void logitsMatchTheReference(String model, Flavour flavour) throws Exception {
        ReferenceModel ref = new ReferenceModel(model);
        try (OrtDecoder d = new OrtDecoder(export(model, flavour))) {
            float[][] want = ref.logits(d.vocab);
            long[] ids = ref.logitIds();
            assertEquals(want.length, ids.length, "reference rows");
            float[][] got = d.prompt(ids).logits()[0];
            double worst = 0;
            for (int p = 0; p < want.length; p++) {
                for (int v = 0; v < d.vocab; v++) {
                    worst = Math.max(worst, Math.abs(want[p][v] - got[p][v]));
                }
                assertEquals(OrtDecoder.argmax(want[p]), OrtDecoder.argmax(got[p]), "argmax at position " + p);
            }
            assertTrue(worst <= 1e-4, model + " " + flavour.id + ": largest difference from the reference logits " + worst);
        }
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void greedyIdsMatchTheReference(String model, Flavour flavour) throws Exception {
        ReferenceModel ref = new ReferenceModel(model);
        long[] want = ref.greedyIds();
        try (OrtDecoder d = new OrtDecoder(export(model, flavour))) {
            List<Long> got = d.greedy(ref.promptIds(), want.length, Set.of());
            assertArrayEquals(want, got.stream().mapToLong(Long::longValue).toArray(), model + " " + flavour.id);
        }
    }
}
