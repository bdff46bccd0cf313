#!/usr/bin/env bash
# GGUF export benchmark (issue 16): `export-gguf` of the 2.2 GB f32 benchmark model (hidden 2048, intermediate
# 5632, 8 layers, vocab 32000, untied lm_head) under -Xmx512m, file in the page cache, next to two machine
# primitives measured in the same run: `cat FILE > /dev/null` (read) and `dd` writing as many bytes as the export
# wrote into a new file (write). Types q8_0 (every 2-D weight quantized, as llama.cpp does), q4_0 and f16. Best of
# RUNS fresh runs each (default 3); peak RSS of that run; then the steady state, the export repeated in one JVM.
# Usage: bench/export-gguf.sh [SCRATCH_DIR]   (default /tmp/arica-bench; about 5 GB of disk)
set -eu
. "$(dirname "$0")/bench-model-lib.sh"
types="${TYPES:-q8_0 q4_0 f16}"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/ {print $2}') GiB" >&2
echo "load before: $(uptime)" >&2
printf '| measurement | value |\n| --- | --- |\n'
printf '| input: the bench preset, f32, one file | %s bytes |\n' "$in_bytes"
printf '| `cat` read of the input | %.3f s, %s GB/s |\n' "$cat_s" "$(gbs "$in_bytes" "$cat_s")"
for type in $types; do
  out="$scratch/out-$type.gguf"
  one_pass "\`export-gguf --type $type\`" "$out" "$arica" export-gguf "$dir" -o "$out" --type "$type"
done
# The steady state: the same export repeated in one JVM (runs after the first need no JIT warm-up).
java="$("$root/bin/find-jdk")/bin/java"
[ -f "$root/bench/target/arica-bench.jar" ] || "$root/bin/mvn" -q -B -ntp -pl bench -am package -DskipTests
for type in $types; do
  steady=$("$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx512m \
    -cp "$root/bench/target/arica-bench.jar:$root/bench/target/lib/*" dev.arica.bench.GgufExportRepeat \
    "$dir" "$scratch/repeat.gguf" "$type" 4 2>/dev/null | awk '{print $3}' | tail -n +2 | best)
  printf '| `export-gguf --type %s`, in one JVM, best of runs 2-4 | %.3f s, %s GB/s of input, ratio to cat %s |\n' \
    "$type" "$steady" "$(gbs "$in_bytes" "$steady")" "$(echo "scale=3; $cat_s / $steady" | bc -l)"
done
echo "load after: $(uptime)" >&2
