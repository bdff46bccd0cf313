#!/usr/bin/env bash
# merge-lora on the 2.2 GB benchmark model (synth --preset bench, f32) with a rank-16 adapter of every projection
# (synth --lora-for), next to convert of the same model in the same run (both write an HF directory of the same
# size), alternating RUNS times; peak RSS of each from GNU time under -Xmx512m.
#
# Usage: bench/lora.sh [SCRATCH_DIR]   (about 7 GB of disk)
set -eu
runs="${RUNS:-3}"
. "$(dirname "$0")/generation-lib.sh"
adapter="$scratch/bench-lora-r16"
[ -f "$adapter/adapter_config.json" ] || "$arica" synth --lora-for "$b_hf" --rank 16 -o "$adapter" --force >&2
timed() { /usr/bin/time -f "%e %M" "$@" 2>&1 >/dev/null | tail -1; }
echo "load before: $(uptime)" >&2
printf '| run | convert s | convert peak RSS MB | merge-lora s | merge-lora peak RSS MB | ratio |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n'
for i in $(seq "$runs"); do
  rm -rf "$scratch/bench-convert-out" "$scratch/bench-merged-out"
  c=$(ARICA_JAVA_OPTS=-Xmx512m timed "$arica" convert "$b_hf" -o "$scratch/bench-convert-out")
  m=$(ARICA_JAVA_OPTS=-Xmx512m timed "$arica" merge-lora "$b_hf" "$adapter" -o "$scratch/bench-merged-out")
  set -- $c $m
  printf '| %d | %s | %d | %s | %d | %.2f |\n' "$i" "$1" $(($2 / 1024)) "$3" $(($4 / 1024)) "$(echo "$3 / $1" | bc -l)"
done
echo "load after: $(uptime)" >&2
