package dev.arica.runtime.ort;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import dev.arica.formats.FormatException;
import dev.arica.runtime.ToyOnnx;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InferenceSessionTest {
    @TempDir
    static Path dir;
    static Path add;
    static OrtRuntime ort;

    static final InferenceSession.Probe NO_CUDA = () -> new CudaProbe.Result(false, "no NVIDIA device (test)", Map.of(),
            CudaProbe.REQUIRED_LIBRARIES, Duration.ZERO);

    /** z = x + y over float vectors. */
    @BeforeAll
    static void model() throws Exception {
        ort = ToyOnnx.ort();
        add = dir.resolve("add.onnx");
        Files.write(add, ToyOnnx.model(List.of(ToyOnnx.node("Add", List.of("x", "y"), "z")), List.of(),
                List.of(ToyOnnx.value("x", ToyOnnx.FLOAT, "n"), ToyOnnx.value("y", ToyOnnx.FLOAT, "n")),
                List.of(ToyOnnx.value("z", ToyOnnx.FLOAT, "n"))));
    }

    static OnnxTensor floats(float... v) throws Exception {
        return OnnxTensor.createTensor(ort.environment(), FloatBuffer.wrap(v), new long[] {v.length});
    }

    @Test
    void runsOnTheCpuWithItsInputsChecked() throws Exception {
        try (InferenceSession s = InferenceSession.open(add, new InferenceSession.Options(Device.CPU, 1, 0), ort, NO_CUDA);
             OnnxTensor x = floats(1, 2, 3);
             OnnxTensor y = floats(10, 20, 30)) {
            assertEquals(ExecutionProvider.CPU, s.provider());
            assertEquals("", s.providerNote());
            assertEquals(Set.of("x", "y"), s.inputs().keySet());
            assertEquals("FLOAT", s.inputs().get("x").type());
            assertArrayEquals(new long[] {-1}, s.inputs().get("x").shape());
            try (OrtSession.Result r = s.run(Map.of("x", x, "y", y), Set.of("z"))) {
                float[] z = new float[3];
                ((OnnxTensor) r.get("z").orElseThrow()).getFloatBuffer().get(z);
                assertArrayEquals(new float[] {11, 22, 33}, z);
            }
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.run(Map.of("x", x), null));
            assertEquals(add + ": inputs missing: [y]", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> s.run(Map.of("x", x, "y", y, "w", y), null));
            assertEquals(add + ": inputs the model does not have: [w] (it has [x, y])", e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> s.run(Map.of("x", x, "y", y), Set.of("z", "q")));
            assertEquals(add + ": outputs the model does not have: [q] (it has [z])", e.getMessage());
        }
    }

    @Test
    void autoWithoutCudaRunsOnTheCpuAndSaysWhy() throws Exception {
        try (InferenceSession s = InferenceSession.open(add, InferenceSession.Options.of(Device.AUTO), ort, NO_CUDA)) {
            assertEquals(ExecutionProvider.CPU, s.provider());
            assertEquals("no NVIDIA device (test)", s.providerNote());
        }
    }

    @Test
    void forcedCudaWithoutCudaIsRefused() {
        DeviceUnavailableException e = assertThrows(DeviceUnavailableException.class,
                () -> InferenceSession.open(add, InferenceSession.Options.of(Device.CUDA), ort, NO_CUDA));
        assertEquals("CUDA was asked for but cannot be used: no NVIDIA device (test)", e.getMessage());
    }

    @Test
    void closedOnceAndUnusableAfter() throws Exception {
        InferenceSession s = InferenceSession.open(add, InferenceSession.Options.of(Device.CPU), ort, NO_CUDA);
        s.close();
        s.close();
        try (OnnxTensor x = floats(1)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> s.run(Map.of("x", x, "y", x), null));
            assertEquals(add + ": session is closed", e.getMessage());
        }
    }

    @Test
    void notAModelIsAFormatError() throws Exception {
        Path junk = Files.write(dir.resolve("junk.onnx"), new byte[] {1, 2, 3, 4, 5});
        FormatException e = assertThrows(FormatException.class,
                () -> InferenceSession.open(junk, InferenceSession.Options.of(Device.CPU), ort, NO_CUDA));
        assertTrue(e.getMessage().startsWith(junk + ": ONNX Runtime cannot load it: "), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"));
        assertThrows(NoSuchFileException.class,
                () -> InferenceSession.open(dir.resolve("none.onnx"), InferenceSession.Options.of(Device.CPU), ort, NO_CUDA));
        assertThrows(IllegalArgumentException.class, () -> new InferenceSession.Options(Device.CPU, -1, 0));
    }

    @Test
    void ortConfigEntriesFromTheEnvironmentAreParsedInOrderAndMalformedOnesRefused() {
        assertEquals(Map.of(), InferenceSession.configEntries(null));
        assertEquals(Map.of(), InferenceSession.configEntries("  "));
        assertEquals(List.of("session.intra_op.allow_spinning", "session.disable_prepacking"),
                List.copyOf(InferenceSession.configEntries(" session.intra_op.allow_spinning=0;session.disable_prepacking = 1;")
                        .keySet()));
        assertEquals("1", InferenceSession.configEntries("a=0;a=1").get("a"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> InferenceSession.configEntries("a=1;spinning"));
        assertEquals("ARICA_ORT_CONFIG: 'spinning' is not key=value", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> InferenceSession.configEntries("a="));
        assertThrows(IllegalArgumentException.class, () -> InferenceSession.configEntries("=1"));
    }
}
