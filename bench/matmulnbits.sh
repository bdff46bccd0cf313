#!/usr/bin/env bash
# ONNX Runtime's MatMulNBits alone against the machine's read rate (issue 17): a chain of LAYERS (128) products
# [1, K] x [K, K] (K 2048, the benchmark model's hidden size) over block-32 weights, 4-bit as q4_0 is exported and 8-bit
# as q8_0, prepacked as generate prepacks them; the chain holds 0.34 GB (4-bit) and 0.60 GB (8-bit) of weights, more
# than the caches, as a decode step's weights are. Median of RUNS (10) after as many untimed runs, THREADS (2), next
# to the same threads reading as many bytes of memory (a sum of longs). GB/s = weight bytes / median time.
# Usage: bench/matmulnbits.sh [SCRATCH_DIR]   (default $ARICA_BENCH_DIR or /tmp/arica-bench; ~0.6 GB written, deleted)
set -eu
. "$(dirname "$0")/generation-lib.sh"   # root, scratch, threads, jdk
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for t in $(seq 1 "$threads"); do
  "$jdk/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -cp "$root/bench/target/arica-bench.jar:$root/bench/target/lib/*" dev.arica.bench.MatMulNBitsBench \
    "$scratch/matmulnbits" "$t" "${K:-2048}" "${LAYERS:-128}" "${RUNS:-10}" 2>/dev/null | grep '^RESULT'
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
