package dev.arica.runtime.ort;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import java.nio.file.Path;

/**
 * Run in a fresh JVM by OrtStartupTest: starts ORT (through arica's cache, or ORT's own loader) and
 * creates one tensor, then prints how long that took and what the cache did.
 */
public final class OrtStartupMain {
    private OrtStartupMain() {}

    public static void main(String[] args) throws Exception {
        long t0 = System.nanoTime();
        OrtEnvironment env;
        String extracted = "-", reused = "-";
        if (args[0].equals("cache")) {
            OrtRuntime r = OrtRuntime.start(Path.of(args[1]));
            env = r.environment();
            if (r.extraction().isPresent()) {
                extracted = String.valueOf(r.extraction().get().extracted().size());
                reused = String.valueOf(r.extraction().get().reused().size());
            }
        } else {
            env = OrtEnvironment.getEnvironment();
        }
        try (OnnxTensor t = OnnxTensor.createTensor(env, new float[] {1f})) {
            if (t.getFloatBuffer().get(0) != 1f) {
                throw new AssertionError("tensor round trip");
            }
        }
        long t1 = System.nanoTime();
        System.out.println("startup_ns=" + (t1 - t0) + " extracted=" + extracted + " reused=" + reused);
    }
}
