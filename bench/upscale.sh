#!/usr/bin/env bash
# Upscale benchmark (issue 6): `upscale --drop 8` of the synthetic 32-layer checkpoint (`synth --preset
# bench32`: hidden 2048, intermediate 5632, vocab 32000, untied, f32, 7.1 GB in shards of 2GB) into 48
# layers (10.4 GB) under -Xmx256m, next to `cp` in the same run (the machine primitive: cp copies with
# copy_file_range, as upscale does) of the same input: the whole directory, then whole shards again until it
# has written about as many bytes as upscale does. Both read only the input, from the page cache, and
# write alike amounts: this VM's writes slow down once several GB are dirty, so equal amounts matter (and a
# cp of the output directory would evict the output it reads while writing its copy). `sync; sleep 1`
# before each timed command; best of RUNS (3); peak RSS from /usr/bin/time -f %M.
# Deletes what it wrote unless KEEP=1.
# Usage: bench/upscale.sh [SCRATCH_DIR]   (default /tmp/arica-bench; about 25 GB of disk)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scratch="${1:-/tmp/arica-bench}"
arica="$root/bin/arica"
runs="${RUNS:-3}"
mkdir -p "$scratch"
[ -f "$root/cli/target/arica-cli.jar" ] || "$root/bin/mvn" -q -B -ntp package -DskipTests
model="$scratch/bench32-f32"
out="$scratch/bench32-up48"
copy="$scratch/bench32-cp"
copy2="$scratch/bench32-cp-again"
cleanup() {
  rm -rf "$out" "$copy" "$copy2"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$model"
}
trap cleanup EXIT
[ -f "$model/model.safetensors.index.json" ] || "$arica" synth --preset bench32 --max-shard-size 2GB -o "$model" >&2
in_bytes=$(cat "$model"/*.safetensors | wc -c)
now() { date +%s.%N; }
best() { sort -g | head -n1; }
gbs() { echo "scale=3; $1 / $2 / 1000000000" | bc -l; }

out_bytes=$("$arica" upscale "$model" --drop 8 --dry-run --json | grep '"bytes"' | tr -dc 0-9)
again=()  # shards copied a second time, smallest first, while the total stays within upscale's bytes
cp_bytes=$in_bytes
for f in $(ls -S -r "$model"/*.safetensors); do
  size=$(stat -c %s "$f")
  if (( cp_bytes + size <= out_bytes )); then again+=("$f"); cp_bytes=$((cp_bytes + size)); fi
done
echo "load before: $(uptime)" >&2
start_s=$(for i in $(seq "$runs"); do s=$(now); "$arica" --version >/dev/null; e=$(now); echo "$e - $s" | bc -l; done | best)
up_best=999; cp_best=999; rss_best=0; rss_max=0; out_files=0; shards=0; ups=""; cps=""
for i in $(seq "$runs"); do
  rm -rf "$out" "$copy" "$copy2"
  cat "$model"/*.safetensors >/dev/null  # input in the page cache for both
  mkdir "$copy2"
  sync; sleep 1
  s=$(now)
  cp -r "$model" "$copy"
  cp "${again[@]}" "$copy2"/
  e=$(now)
  c=$(echo "$e - $s" | bc -l)
  rm -rf "$copy" "$copy2"
  sync; sleep 1
  s=$(now)
  ARICA_JAVA_OPTS=-Xmx256m /usr/bin/time -f "%M" -o "$scratch/rss" "$arica" upscale "$model" -o "$out" --drop 8 >/dev/null 2>&1
  e=$(now)
  t=$(echo "$e - $s" | bc -l)
  rss=$(tail -n1 "$scratch/rss")
  shards=$(ls "$out"/*.safetensors | wc -l)
  out_files=$(cat "$out"/*.safetensors | wc -c)
  ups="$ups $(printf '%.2f' "$t")"; cps="$cps $(printf '%.2f' "$c")"
  if (( $(echo "$t < $up_best" | bc -l) )); then up_best=$t; rss_best=$rss; fi
  if (( $(echo "$c < $cp_best" | bc -l) )); then cp_best=$c; fi
  if (( rss > rss_max )); then rss_max=$rss; fi
  echo "run $i: cp $(printf '%.2f' "$c") s, upscale $(printf '%.2f' "$t") s (peak RSS $(( rss / 1024 )) MB)" >&2
done
echo "load after: $(uptime)" >&2

printf '| measurement | value |\n| --- | --- |\n'
printf '| input: bench32, f32, %s shards | %s bytes |\n' "$(ls "$model"/*.safetensors | wc -l)" "$in_bytes"
printf '| output: 48 layers, %s shards | %s bytes of tensors (files: %s bytes) |\n' "$shards" "$out_bytes" "$out_files"
printf '| JVM start (`arica --version`) | %.3f s |\n' "$start_s"
printf '| `cp` of the input directory and %s of its shards again, %s bytes (machine primitive), best of %s (all:%s) | %.3f s, %s GB/s |\n' "${#again[@]}" "$cp_bytes" "$runs" "$cps" "$cp_best" "$(gbs "$cp_bytes" "$cp_best")"
printf '| `upscale --drop 8` under -Xmx256m, best of %s (all:%s) | %.3f s, %s GB/s of output |\n' "$runs" "$ups" "$up_best" "$(gbs "$out_bytes" "$up_best")"
printf '| **upscale GB/s / cp GB/s** | **%s** |\n' "$(echo "scale=3; ($out_bytes / $up_best) / ($cp_bytes / $cp_best)" | bc -l)"
printf '| peak RSS of upscale (best run; largest of all runs) | %s MB; %s MB |\n' "$(( rss_best / 1024 ))" "$(( rss_max / 1024 ))"
