#!/usr/bin/env bash
# Quantization benchmark (issue 3): `quantize --scheme q8_0|q4_0|int4` of the 2.2 GB f32 benchmark model
# (hidden 2048, intermediate 5632, 8 layers, vocab 32000, untied lm_head) under -Xmx512m, file in the page
# cache, next to `cat FILE > /dev/null` of the same file in the same run. Reports input GB/s, the ratio to
# cat and peak RSS (best of RUNS runs each).
# Usage: bench/quantize.sh [SCRATCH_DIR]   (default /tmp/arica-bench; about 3.5 GB of disk)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scratch="${1:-/tmp/arica-bench}"
arica="$root/bin/arica"
runs="${RUNS:-3}"
mkdir -p "$scratch"
[ -f "$root/cli/target/arica-cli.jar" ] || "$root/bin/mvn" -q -B -ntp package -DskipTests
dir="$scratch/llama-f32-8l"
[ -f "$dir/model.safetensors" ] || "$arica" synth --preset bench -o "$dir" >&2
model="$dir/model.safetensors"
in_bytes=$(stat -c %s "$model")
now() { date +%s.%N; }
best() { sort -g | head -n1; }

cat "$model" >/dev/null  # page cache warm
cat_s=$(for i in $(seq "$runs"); do s=$(now); cat "$model" >/dev/null; e=$(now); echo "$e - $s" | bc -l; done | best)
gbs() { echo "scale=2; $1 / $2 / 1000000000" | bc -l; }
printf '| measurement | value |\n| --- | --- |\n'
printf '| input: the bench preset, f32, one file | %s bytes |\n' "$in_bytes"
printf '| `cat` read of the input | %.3f s, %s GB/s |\n' "$cat_s" "$(gbs "$in_bytes" "$cat_s")"
for scheme in "q8_0" "q4_0" "int4"; do
  out="$scratch/out-$scheme.arica"
  t_best=999; rss_best=0
  for i in $(seq "$runs"); do
    rm -f "$out"; sync; sleep 1
    s=$(now)
    ARICA_JAVA_OPTS=-Xmx512m /usr/bin/time -f "%M" -o "$scratch/rss" "$arica" quantize "$dir" -o "$out" \
      --scheme "$scheme" >/dev/null 2>&1
    e=$(now)
    t=$(echo "$e - $s" | bc -l)
    rss=$(tail -n1 "$scratch/rss")
    if (( $(echo "$t < $t_best" | bc -l) )); then t_best=$t; rss_best=$rss; fi
  done
  out_bytes=$(stat -c %s "$out")
  printf '| `quantize --scheme %s` under -Xmx512m | %.3f s, %s GB/s of input, ratio to cat %s, peak RSS %s MB, output %s bytes |\n' \
    "$scheme" "$t_best" "$(gbs "$in_bytes" "$t_best")" "$(echo "scale=3; $cat_s / $t_best" | bc -l)" \
    "$(( rss_best / 1024 ))" "$out_bytes"
  rm -f "$out"
done
