#!/usr/bin/env bash
# Kernel benchmarks (issue 3), JMH: quantize and dequantize of 32 MiB of float32 per scheme, vector and
# scalar kernels, one thread, next to a memcpy of the same bytes measured in the same run. Prints a
# markdown table: GB/s of float32 and the ratio to memcpy.
# Usage: bench/kernels.sh [extra JMH options, e.g. -wi 1 -i 2 for a quick look]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
[ -f "$root/bench/target/arica-bench.jar" ] || "$root/bin/mvn" -q -B -ntp -pl bench -am package -DskipTests
java="$("$root/bin/find-jdk")/bin/java"
cp="$root/bench/target/arica-bench.jar:$root/bench/target/lib/*"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$java" -cp "$cp" org.openjdk.jmh.Main 'KernelJmh\.(quantize|dequantize)' -rf csv -rff "$out/k.csv" "$@" >&2
"$java" -cp "$cp" org.openjdk.jmh.Main 'KernelJmh\.(memcpy|errorStats)$' -p scheme=q8_0 -rf csv -rff "$out/c.csv" "$@" >&2
# Every operation handles 32 MiB of float32 (KernelJmh.ELEMENTS); scores are ms per operation.
tail -n +2 "$out/c.csv" "$out/k.csv" | tr -d '"' | grep -v '^==>' | grep -v '^$' | awk -F, -v bytes=$((8 * 1024 * 1024 * 4)) '
  { name = $1; sub(/.*\./, "", name); score[NR] = $5; names[NR] = name; scheme[NR] = $8; if (name == "memcpy") memcpy = $5 }
  END {
    print "| kernel | scheme | ms per 32 MiB | GB/s of f32 | ratio to memcpy |"
    print "| --- | --- | --- | --- | --- |"
    for (i = 1; i <= NR; i++) {
      s = (names[i] == "memcpy" || names[i] == "errorStats") ? "-" : scheme[i]
      printf "| %s | %s | %.3f | %.2f | %.3f |\n", names[i], s, score[i], bytes / (score[i] / 1000) / 1e9, memcpy / score[i]
    }
  }'
