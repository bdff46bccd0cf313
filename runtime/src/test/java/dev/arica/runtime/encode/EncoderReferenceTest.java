package dev.arica.runtime.encode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.arica.formats.Checkpoint;
import dev.arica.formats.FormatException;
import dev.arica.formats.Progress;
import dev.arica.formats.io.Json;
import dev.arica.formats.testing.TestModels;
import dev.arica.runtime.ToyOnnx;
import dev.arica.runtime.export.OnnxExporter;
import dev.arica.runtime.export.OnnxExporter.Flavour;
import dev.arica.runtime.generate.GenAiConfig;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * BERT and RoBERTa exported and run: last_hidden_state and the masked-LM logits within 1e-4 of the references
 * (transformers' semantics, float64) for every case of their cases.json: the sentence, the same padded (the padding
 * changes no real row), and a BERT sentence pair (token type 1).
 */
class EncoderReferenceTest {
    @TempDir
    static Path tmp;

    @BeforeAll
    static void ort() {
        ToyOnnx.ort();
    }

    static Path export(String model, Flavour flavour) throws Exception {
        Path out = tmp.resolve(model + "-" + flavour.id);
        if (!Files.exists(out)) {
            try (Checkpoint c = Checkpoint.open(TestModels.dir(model))) {
                OnnxExporter.export(c, out, OnnxExporter.Options.defaults().withFlavour(flavour), Progress.NONE);
            }
        }
        return out;
    }

    static Stream<Arguments> cases() throws Exception {
        return Stream.of("tiny-bert", "tiny-roberta").flatMap(m -> {
            try {
                JsonNode cases = Json.readObjectFile(TestModels.dir(m).resolve("reference/cases.json")).get("cases");
                return Stream.iterate(0, i -> i < cases.size(), i -> i + 1).flatMap(i -> Stream.of(Flavour.values())
                        .map(f -> Arguments.of(m, cases.get(i).get("name").asText(), f)));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void hiddenStatesAndLogitsMatchTheReference(String model, String name, Flavour flavour) throws Exception {
        Path dir = TestModels.dir(model);
        JsonNode c = null;
        for (JsonNode x : Json.readObjectFile(dir.resolve("reference/cases.json")).get("cases")) {
            if (x.get("name").asText().equals(name)) {
                c = x;
            }
        }
        long[] ids = longs(c.get("input_ids"));
        long[] mask = longs(c.get("attention_mask"));
        long[] types = c.has("token_type_ids") ? longs(c.get("token_type_ids")) : null;
        String suffix = name.equals("full") ? "" : "_" + name;
        try (OnnxEncoder e = OnnxEncoder.open(export(model, flavour).resolve(OnnxExporter.MODEL_FILE),
                new InferenceSession.Options(Device.CPU, 1, 0))) {
            assertTrue(e.hasLogits());
            OnnxEncoder.Output out = e.run(ids, mask, e.takesTokenTypes() ? types : null);
            double hidden = worst(out.hidden(), read(dir.resolve("reference/hidden" + suffix + ".f32"), out.hidden()[0].length));
            double logits = worst(out.logits(), read(dir.resolve("reference/logits" + suffix + ".f32"), out.logits()[0].length));
            assertTrue(hidden <= 1e-4, model + " " + name + " " + flavour.id + ": last_hidden_state differs by " + hidden);
            assertTrue(logits <= 1e-4, model + " " + name + " " + flavour.id + ": logits differ by " + logits);
        }
    }

    @Test
    void robertaTakesNoTokenTypesAndTheDescriptionSaysEncoder() throws Exception {
        Path dir = export("tiny-roberta", Flavour.STANDARD);
        try (OnnxEncoder e = OnnxEncoder.open(dir.resolve(OnnxExporter.MODEL_FILE), new InferenceSession.Options(Device.CPU, 1, 0))) {
            assertFalse(e.takesTokenTypes());
            assertThrows(IllegalArgumentException.class, () -> e.run(new long[] {0, 5, 2}, null, new long[] {0, 1, 1}));
        }
        FormatException f = assertThrows(FormatException.class, () -> GenAiConfig.read(dir.resolve(GenAiConfig.FILE)));
        assertTrue(f.getMessage().endsWith("describes an encoder (roberta), which does not generate; use embed or forward"),
                f.getMessage());
    }

    static double worst(float[][] got, float[][] want) {
        assertEquals(want.length, got.length, "rows");
        double w = 0;
        for (int i = 0; i < want.length; i++) {
            for (int j = 0; j < want[i].length; j++) {
                w = Math.max(w, Math.abs(want[i][j] - got[i][j]));
            }
        }
        return w;
    }

    static float[][] read(Path f32, int width) throws Exception {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f32)).order(ByteOrder.LITTLE_ENDIAN);
        int rows = b.remaining() / 4 / width;
        float[][] out = new float[rows][width];
        for (float[] r : out) {
            b.asFloatBuffer().get(r);
            b.position(b.position() + 4 * width);
        }
        return out;
    }

    static long[] longs(JsonNode a) {
        long[] v = new long[a.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = a.get(i).asLong();
        }
        return v;
    }
}
