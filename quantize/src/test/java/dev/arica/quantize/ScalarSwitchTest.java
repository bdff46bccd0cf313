package dev.arica.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code -Darica.scalar=true} turns the vector kernels off; without it they are on where the Vector API is. */
class ScalarSwitchTest {

    /** Prints whether the vector kernels are in use. */
    public static final class Probe {
        public static void main(String[] args) {
            System.out.print(Quantizer.vectorized());
        }
    }

    @Test
    void vectorKernelsAreOnByDefault() {
        boolean module = ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent();
        boolean wide = module && VectorKernels.preferredBits() >= 128;
        assertEquals(wide && !Boolean.getBoolean("arica.scalar"), Quantizer.vectorized());
    }

    @Test
    void propertyForcesScalar() throws Exception {
        String java = System.getProperty("java.home") + File.separator + "bin" + File.separator + "java";
        Process p = new ProcessBuilder(List.of(java, "--add-modules", "jdk.incubator.vector", "-Darica.scalar=true",
                "-cp", System.getProperty("java.class.path"), Probe.class.getName()))
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        p.waitFor(60, TimeUnit.SECONDS);
        assertEquals("false", out);
        assertEquals(0, p.exitValue());
    }
}
