package dev.arica.runtime.export;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.arica.formats.Checkpoint;
import dev.arica.formats.Progress;
import dev.arica.formats.arica.AricaCheckpoint;
import dev.arica.formats.quant.QuantLayout;
import dev.arica.formats.quant.Scheme;
import dev.arica.formats.testing.Stories260K;
import dev.arica.quantize.CheckpointQuantizer;
import dev.arica.runtime.export.OnnxExporter.Flavour;
import dev.arica.testdata.SyntheticLlama;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The safety net of the exporter's refactorings: for stories260K and a synthetic Llama, both flavours, float and
 * .arica q8_0/q4_0, model.onnx and its data file are byte for byte those the exporter wrote before the architecture
 * descriptions (recorded with commit 4b2b0d5). A change that alters them on purpose must show identical logits and
 * record the new digests here.
 */
class ExportBytesTest {

    /** "model/flavour/weights" to the SHA-256 of model.onnx and of model.onnx.data. */
    private static final Map<String, String[]> RECORDED = Map.ofEntries(
            Map.entry("stories260K/standard/f32", new String[] {
                    "7827c6dc0bb2e9a541752d2108395e94c13efe5d026983fcff95854e1423d8f4",
                    "9fcf1564a069d311147e3729f074ecd7d9a009970d80cfd25a7627633e82031f"}),
            Map.entry("stories260K/ort-optimized/f32", new String[] {
                    "afb39a6b1740192bfa532fd526cde212ffe9e50b54dbafe94b98ba3e75685614",
                    "3213e1b18675b6e59b633a41de3aa139e1adf441b322688e380425a6c23ec840"}),
            Map.entry("stories260K/standard/q8_0", new String[] {
                    "e804d3789c2216a00591869b0141abd406ab2c4e58738312522333678effde01",
                    "7fb589ba52452dc265bc65f4a31038d8dd6e4e1dc0297d66bc9f6bd0315d7dfb"}),
            Map.entry("stories260K/ort-optimized/q8_0", new String[] {
                    "b6fb81eefd682bba7598f868704456e9adf6b55ce53a53c7a2f03457b9417b56",
                    "cdf3d3c27f04a44044d8176829277891507e85ac5b6bab95542cdbb61dbb72b5"}),
            Map.entry("stories260K/standard/q4_0", new String[] {
                    "a840493b53f3fdbb31f58e98bca52807feac933b3c755f172e6de24130b262d6",
                    "a15a8fe22b10903bcfef2d2ae868d5657567acb4c76f07b3ed588c7295925dcc"}),
            Map.entry("stories260K/ort-optimized/q4_0", new String[] {
                    "02e46d3e5709ccbd73b54fb98eb8e9aa8e4f0980bbcb5938d7ce360e3fc70250",
                    "b7a8828a77ed77eb2b2bbda1b9a8ca2bd337a73d18d498f5528816008c71c77c"}),
            Map.entry("synthetic/standard/f32", new String[] {
                    "4476c1532c13b648d59fcc5feba5624c94edf83fb25b57eacc82cd0345ca0402",
                    "b45e49e1f093f3e0e3ab19af1561a4b52e538b169990ce01c0174050e843718e"}),
            Map.entry("synthetic/ort-optimized/f32", new String[] {
                    "c1c7bea640a49cfdd705017001786360c3ec357d895429ee86a7c3f07d92f625",
                    "741f63163b657cb4fde1000bf9157ea1746ba03ecdcb473fd4ebb5a08017b585"}),
            Map.entry("synthetic/standard/q8_0", new String[] {
                    "21fbac42cfec0f80f3cea07de94fd3ce36a5e551e35766dcd9d31684bb15e36a",
                    "dc7bb34c5f27ed05fa3aeb330a2c280b5fc7eaca4617d5078c53542f5ed46e2e"}),
            Map.entry("synthetic/ort-optimized/q8_0", new String[] {
                    "81f1af3e5fae352c89a52ef9c31d0ff7e6b5b630c9f5e3ee3e159beb7eaa7e87",
                    "4d888d2420b00d21264c531e63ce521df27c16e21f78e39eb05bc7f65d3a38ee"}),
            Map.entry("synthetic/standard/q4_0", new String[] {
                    "b74654dfbba68d87d41c588f0d92f4e710dd36b10974a770aa21c209ebbcfcb3",
                    "ee57954b2365251f445c1ca9fd128a067d6ea87cf4a77da4fd4e77b58f7abdd3"}),
            Map.entry("synthetic/ort-optimized/q4_0", new String[] {
                    "b44dc4a9d4ae84affc2891320fd58c7314f59c19e61bd9cfb74326cfeb9ed69b",
                    "d3be69478541fc3cbe8ecbd1197557622d69d1c3bdbc9725207aa9b9f22a65eb"}));

    @TempDir
    static Path tmp;

    static Path synthetic;

    @BeforeAll
    static void write() throws IOException {
        synthetic = tmp.resolve("synthetic");
        SyntheticLlama.write(synthetic, SyntheticLlama.Preset.TINY_GQA.spec(), Long.MAX_VALUE, Progress.NONE);
    }

    static Stream<Arguments> cases() {
        return Stream.of("stories260K", "synthetic").flatMap(m -> Stream.of(Flavour.values())
                .flatMap(f -> Stream.of("f32", "q8_0", "q4_0").map(w -> Arguments.of(m, f, w))));
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("cases")
    void theExportIsByteIdenticalToTheRecordedOne(String model, Flavour flavour, String weights) throws Exception {
        Path source = model.equals("stories260K") ? Stories260K.checkpoint() : synthetic;
        Path out = tmp.resolve(model + "-" + flavour.id + "-" + weights);
        OnnxExporter.Options options = OnnxExporter.Options.defaults().withFlavour(flavour);
        if (weights.equals("f32")) {
            try (Checkpoint c = Checkpoint.open(source)) {
                OnnxExporter.export(c, out, options, Progress.NONE);
            }
        } else {
            Path arica = tmp.resolve(model + "-" + weights + ".arica");
            if (!Files.exists(arica)) {
                try (Checkpoint c = Checkpoint.open(source)) {
                    CheckpointQuantizer.quantize(c, arica, CheckpointQuantizer.Options.of(
                            QuantLayout.of(Scheme.parse(weights).orElseThrow())), Progress.NONE);
                }
            }
            try (AricaCheckpoint a = AricaCheckpoint.open(arica)) {
                OnnxExporter.export(a, out, options, Progress.NONE);
            }
        }
        String key = model + "/" + flavour.id + "/" + weights;
        String[] got = {sha256(out.resolve(OnnxExporter.MODEL_FILE)), sha256(out.resolve("model.onnx.data"))};
        assertEquals(String.join(" ", RECORDED.get(key)), String.join(" ", got), key + ": model.onnx, model.onnx.data");
    }

    private static String sha256(Path file) throws IOException, NoSuchAlgorithmException {
        MessageDigest d = MessageDigest.getInstance("SHA-256");
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), d)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(d.digest());
    }
}
