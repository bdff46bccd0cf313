#!/usr/bin/env bash
# Quantization benchmark (issue 3): `quantize` of the 2.2 GB f32 benchmark model (hidden 2048,
# intermediate 5632, 8 layers, vocab 32000, untied lm_head) under -Xmx512m, file in the page cache, next
# to two machine primitives measured in the same run: `cat FILE > /dev/null` (read) and `dd` writing as
# many bytes as quantize wrote into a new file (write). Two selections: the default (embeddings and
# lm_head kept f32) and every 2-D tensor quantized (--quantize-embeddings --quantize-head, as llama.cpp's
# quantizer does). Best of RUNS runs each (default 3); peak RSS of that run.
# Usage: bench/quantize.sh [SCRATCH_DIR]   (default /tmp/arica-bench; about 4 GB of disk)
set -eu
. "$(dirname "$0")/bench-model-lib.sh"
echo "load before: $(uptime)" >&2
printf '| measurement | value |\n| --- | --- |\n'
printf '| input: the bench preset, f32, one file | %s bytes |\n' "$in_bytes"
printf '| `cat` read of the input | %.3f s, %s GB/s |\n' "$cat_s" "$(gbs "$in_bytes" "$cat_s")"
for selection in default all; do
  extra=""
  [ "$selection" = all ] && extra="--quantize-embeddings --quantize-head"
  for scheme in q8_0 q4_0; do
    out="$scratch/out-$scheme.arica"
    # shellcheck disable=SC2086
    one_pass "\`quantize --scheme $scheme\` ($selection)" "$out" "$arica" quantize "$dir" -o "$out" --scheme "$scheme" $extra
  done
done
# The steady state: the same quantization repeated in one JVM (runs after the first need no JIT warm-up).
java="$("$root/bin/find-jdk")/bin/java"
[ -f "$root/bench/target/arica-bench.jar" ] || "$root/bin/mvn" -q -B -ntp -pl bench -am package -DskipTests
for scheme in q8_0 q4_0; do
  steady=$("$java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx512m \
    -cp "$root/bench/target/arica-bench.jar:$root/bench/target/lib/*" dev.arica.bench.QuantizeRepeat \
    "$dir" "$scratch/repeat.arica" "$scheme" 4 all 2>/dev/null | awk '{print $3}' | tail -n +2 | best)
  printf '| `quantize --scheme %s` (all), in one JVM, best of runs 2-4 | %.3f s, %s GB/s of input, ratio to cat %s |\n' \
    "$scheme" "$steady" "$(gbs "$in_bytes" "$steady")" "$(echo "scale=3; $cat_s / $steady" | bc -l)"
done
echo "load after: $(uptime)" >&2
