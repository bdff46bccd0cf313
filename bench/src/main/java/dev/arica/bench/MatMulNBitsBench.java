package dev.arica.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtSession;
import com.google.protobuf.ByteString;
import dev.arica.formats.onnx.OnnxModel;
import dev.arica.formats.onnx.OnnxType;
import dev.arica.formats.onnx.proto.AttributeProto;
import dev.arica.formats.onnx.proto.GraphProto;
import dev.arica.formats.onnx.proto.ModelProto;
import dev.arica.formats.onnx.proto.NodeProto;
import dev.arica.formats.onnx.proto.OperatorSetIdProto;
import dev.arica.formats.onnx.proto.TensorProto;
import dev.arica.runtime.ort.Device;
import dev.arica.runtime.ort.InferenceSession;
import dev.arica.runtime.ort.OrtRuntime;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * ONNX Runtime's MatMulNBits alone, as a decode step runs it (issue 17): a chain of {@code layers} [1, K] x [K, K]
 * products over block-32 weights (4-bit as q4_0 is exported, 8-bit as q8_0), prepacked as {@code generate} prepacks
 * them, timed per chain, next to the machine's read rate of as many bytes (the same threads summing a buffer of that
 * size). Weights random: the kernel's speed does not depend on the values. Prints one {@code RESULT} line per variant.
 * Arguments: scratch directory, threads, K, layers, runs.
 */
public final class MatMulNBitsBench {
    private MatMulNBitsBench() {}

    private static final int BLOCK = 32;
    private static final VectorSpecies<Long> L = LongVector.SPECIES_PREFERRED;

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int threads = Integer.parseInt(args[1]);
        int k = Integer.parseInt(args[2]);
        int layers = Integer.parseInt(args[3]);
        int runs = Integer.parseInt(args[4]);
        Files.createDirectories(dir);
        long weightBytes = 0;
        for (int bits : new int[] {4, 8}) {
            for (int level : new int[] {4, 0}) {
                if (bits == 8 && level == 0) {
                    continue; // ORT 1.29 expands 8-bit weights to float32 at every call at level 0 (0.6 tok/s): not a contender
                }
                Path model = dir.resolve("matmulnbits-" + bits + "bit-level" + level + ".onnx");
                weightBytes = write(model, k, layers, bits, level);
                double[] ms = time(model, threads, k, runs);
                report("MatMulNBits bits=" + bits + " accuracy_level=" + level, threads, weightBytes, ms);
                Files.delete(model);
            }
        }
        report("read (sum of longs)", threads, weightBytes, readRate(weightBytes, threads, runs));
    }

    private static void report(String what, int threads, long bytes, double[] ms) {
        Arrays.sort(ms);
        double median = ms[ms.length / 2];
        System.out.printf(Locale.ROOT, "RESULT %s threads=%d bytes=%d median_ms=%.3f min_ms=%.3f GB/s=%.2f%n", what, threads,
                bytes, median, ms[0], bytes / median / 1e6);
    }

    /** Writes the chain; returns the bytes of its weights (codes and float scales). */
    private static long write(Path model, int k, int layers, int bits, int level) throws Exception {
        Random random = new Random(17);
        int blocks = k / BLOCK;
        GraphProto.Builder g = GraphProto.newBuilder().setName("matmulnbits_chain");
        g.addInput(OnnxModel.ValueInfo.tensor("x0", OnnxType.FLOAT, 1L, (long) k).toProto());
        long bytes = 0;
        for (int i = 0; i < layers; i++) {
            byte[] codes = new byte[k * blocks * BLOCK * bits / 8];
            random.nextBytes(codes);
            byte[] scales = new byte[k * blocks * 4];
            MemorySegment s = MemorySegment.ofArray(scales);
            for (int j = 0; j < k * blocks; j++) {
                s.setAtIndex(ValueLayout.JAVA_FLOAT_UNALIGNED, j, 0.002f + 0.001f * random.nextFloat());
            }
            g.addInitializer(TensorProto.newBuilder().setName("B" + i).setDataType(OnnxType.UINT8.code())
                    .addAllDims(List.of((long) k, (long) blocks, (long) BLOCK * bits / 8))
                    .setRawData(ByteString.copyFrom(codes)));
            g.addInitializer(TensorProto.newBuilder().setName("scales" + i).setDataType(OnnxType.FLOAT.code())
                    .addDims((long) k * blocks).setRawData(ByteString.copyFrom(scales)));
            bytes += codes.length + scales.length;
            g.addNode(NodeProto.newBuilder().setOpType("MatMulNBits").setDomain("com.microsoft").setName("m" + i)
                    .addInput("x" + i).addInput("B" + i).addInput("scales" + i).addOutput("x" + (i + 1))
                    .addAttribute(attr("K", k)).addAttribute(attr("N", k)).addAttribute(attr("bits", bits))
                    .addAttribute(attr("block_size", BLOCK)).addAttribute(attr("accuracy_level", level)));
        }
        g.addOutput(OnnxModel.ValueInfo.tensor("x" + layers, OnnxType.FLOAT, 1L, (long) k).toProto());
        ModelProto m = ModelProto.newBuilder().setIrVersion(10).setProducerName("arica-bench").setGraph(g)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(21))
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("com.microsoft").setVersion(1)).build();
        try (OutputStream out = Files.newOutputStream(model)) {
            m.writeTo(out);
        }
        return bytes;
    }

    private static AttributeProto attr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    /** Milliseconds of each timed run of the chain, after as many untimed ones. */
    private static double[] time(Path model, int threads, int k, int runs) throws Exception {
        float[] x = new float[k];
        Random random = new Random(3);
        for (int i = 0; i < k; i++) {
            x[i] = (float) random.nextGaussian();
        }
        double[] ms = new double[runs];
        try (InferenceSession s = InferenceSession.open(model, new InferenceSession.Options(Device.CPU, threads, 0, true));
                OnnxTensor in = OnnxTensor.createTensor(OrtRuntime.get().environment(), FloatBuffer.wrap(x),
                        new long[] {1, k})) {
            for (int r = -runs; r < runs; r++) {
                long t0 = System.nanoTime();
                try (OrtSession.Result ignored = s.run(Map.of("x0", in), Set.of(s.outputs().keySet().iterator().next()))) {
                    if (r >= 0) {
                        ms[r] = (System.nanoTime() - t0) / 1e6;
                    }
                }
            }
        }
        return ms;
    }

    /** Milliseconds of each read of {@code bytes} of native memory by {@code threads} threads (a sum of longs). */
    private static double[] readRate(long bytes, int threads, int runs) throws Exception {
        double[] ms = new double[runs];
        try (Arena arena = Arena.ofShared(); ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            MemorySegment m = arena.allocate(bytes, 64);
            m.fill((byte) 1);
            long part = bytes / threads & -64L;
            for (int r = -runs; r < runs; r++) {
                long t0 = System.nanoTime();
                Future<?>[] f = new Future<?>[threads];
                long[] sums = new long[threads];
                for (int t = 0; t < threads; t++) {
                    int id = t;
                    MemorySegment slice = m.asSlice(id * part, part);
                    f[t] = pool.submit(() -> sums[id] = sum(slice));
                }
                for (Future<?> x : f) {
                    x.get();
                }
                if (r >= 0) {
                    ms[r] = (System.nanoTime() - t0) / 1e6;
                }
                if (Arrays.stream(sums).sum() == 42) {
                    System.out.print(""); // keeps the sums alive
                }
            }
        }
        return ms;
    }

    private static long sum(MemorySegment m) {
        LongVector acc = LongVector.zero(L);
        long step = L.vectorByteSize();
        long n = m.byteSize() / step * step;
        for (long i = 0; i < n; i += step) {
            acc = acc.add(LongVector.fromMemorySegment(L, m, i, ByteOrder.LITTLE_ENDIAN));
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }
}
