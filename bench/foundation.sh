#!/usr/bin/env bash
# Foundation benchmarks (issue 2): inspect of a >= 4 GB sharded checkpoint, and convert --dtype f16 of a
# 4 GB f32 checkpoint under -Xmx256m, each next to machine primitives measured in the same run:
# `cat FILE > /dev/null` (read) and `dd` writing as many bytes as convert writes (write).
# Usage: bench/foundation.sh [SCRATCH_DIR]   (default /tmp/arica-bench; about 7 GB of disk)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scratch="${1:-/tmp/arica-bench}"
arica="$root/bin/arica"
runs=3
mkdir -p "$scratch"
[ -f "$root/cli/target/arica-cli.jar" ] || "$root/bin/mvn" -q -B -ntp install -DskipTests
model="$scratch/llama-f32-18l"
if [ ! -f "$model/model.safetensors.index.json" ]; then
  "$arica" synth --preset bench --layers 18 --max-shard-size 2GB -o "$model" >&2
fi
tiny="$scratch/tiny"
[ -d "$tiny" ] || "$arica" synth --preset tiny -o "$tiny" >/dev/null
in_bytes=$(cat "$model"/*.safetensors | wc -c)
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
best() { sort -g | head -n1; }

cat "$model"/*.safetensors >/dev/null  # page cache warm
cat_s=$(for i in $(seq $runs); do secs sh -c "cat '$model'/*.safetensors > /dev/null"; done | best)
start_s=$(for i in $(seq $runs); do secs "$arica" --version; done | best)
inspect_big=$(for i in $(seq $runs); do secs "$arica" inspect "$model" --json; done | best)
inspect_tiny=$(for i in $(seq $runs); do secs "$arica" inspect "$tiny" --json; done | best)

out="$scratch/out-f16"
conv_best=999; rss_best=0; out_bytes=0; dd_best=999
for i in $(seq $runs); do
  rm -rf "$out" "$scratch/dd.out"; sync; sleep 2
  s=$(date +%s.%N)
  ARICA_JAVA_OPTS=-Xmx256m /usr/bin/time -f "%M" -o "$scratch/rss" "$arica" convert "$model" -o "$out" --dtype f16 --max-shard-size 10GB >/dev/null 2>&1
  e=$(date +%s.%N)
  t=$(echo "$e - $s" | bc -l)
  rss=$(tail -n1 "$scratch/rss")
  out_bytes=$(cat "$out"/*.safetensors | wc -c)
  if (( $(echo "$t < $conv_best" | bc -l) )); then conv_best=$t; rss_best=$rss; fi
  rm -rf "$out"; sync; sleep 2
  d=$(secs dd if=/dev/zero of="$scratch/dd.out" bs=4M count=$(( (out_bytes + 4194303) / 4194304 )))
  if (( $(echo "$d < $dd_best" | bc -l) )); then dd_best=$d; fi
  rm -f "$scratch/dd.out"
done

gbs() { echo "scale=2; $1 / $2 / 1000000000" | bc -l; }
ratio() { echo "scale=3; $1 / $2" | bc -l; }
printf '| measurement | value |\n| --- | --- |\n'
printf '| input (f32, %s shards) | %s bytes |\n' "$(ls "$model"/*.safetensors | wc -l)" "$in_bytes"
printf '| `cat` read of the input | %.3f s, %s GB/s |\n' "$cat_s" "$(gbs "$in_bytes" "$cat_s")"
printf '| JVM start (`arica --version`) | %.3f s |\n' "$start_s"
printf '| `inspect --json` of the 4 GB sharded checkpoint | %.3f s (%.3f s after JVM start) |\n' "$inspect_big" "$(echo "$inspect_big - $start_s" | bc -l)"
printf '| `inspect --json` of the 0.5 MB tiny checkpoint | %.3f s |\n' "$inspect_tiny"
printf '| `dd` write of %s bytes (the output size) | %.3f s, %s GB/s |\n' "$out_bytes" "$dd_best" "$(gbs "$out_bytes" "$dd_best")"
printf '| `convert --dtype f16` under -Xmx256m | %.3f s, %s GB/s of input, peak RSS %s MB |\n' "$conv_best" "$(gbs "$in_bytes" "$conv_best")" "$(( rss_best / 1024 ))"
printf '| convert throughput / `cat` throughput | %s |\n' "$(ratio "$cat_s" "$conv_best")"
printf '| convert time / (`cat` + `dd` write) time | %s |\n' "$(ratio "$(echo "$cat_s + $dd_best" | bc -l)" "$conv_best")"
