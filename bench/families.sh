#!/usr/bin/env bash
# Generation speed of the model families next to Llama (issue 12), and Llama's speed before and after the
# refactoring onto family descriptions:
#   gemma2   synth --preset gemma2-bench (gemma-2-2b's shape: hidden 2304, 8 heads of 256, 4 kv heads, MLP 9216,
#            vocab 256000; 2 layers), f32 and q4_0 (.arica: the projections; the head is the tied embedding, which
#            stays f32 for the Gather), exported with export-onnx
#   llama    the benchmark model of generate.sh / quantized.sh (synth --preset bench), f32 and q4_0 with lm_head
# each measured warm by dev.arica.bench.GenerateBench (WARMUP untimed runs, then RUNS timed, NEW_TOKENS greedy
# tokens, THREADS=2 ONNX Runtime threads on the CPU).
# With BEFORE=DIR (a checkout built at the commit before the refactoring, e.g. `git worktree add DIR 06a4878 &&
# (cd DIR && bin/mvn -q package -DskipTests)`), the Llama exports are also run by that build's GenerateBench,
# the two builds taking turns ROUNDS times, so that the load of a shared machine falls on both alike.
#
# Usage: [BEFORE=DIR] bench/families.sh [SCRATCH_DIR]   (about 12 GB of disk)
set -eu
runs="${RUNS:-3}"
warmup="${WARMUP:-2}"
rounds="${ROUNDS:-3}"
. "$(dirname "$0")/generation-lib.sh"

# GenerateBench of the checkout at $1 on the export $2 (prepack $3): its RESULT line.
warm_in() {
  "$jdk/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -cp "$1/bench/target/arica-bench.jar:$1/bench/target/lib/*" dev.arica.bench.GenerateBench \
    "$2" "$tok" "$threads" "$new" "$warmup" "$runs" "$3" 2>/dev/null | grep '^RESULT'
}
w() { echo "$1" | grep -o "$2=[0-9.]*" | cut -d= -f2; }

g_hf="$scratch/gemma2-bench-hf"
[ -f "$g_hf/config.json" ] || "$arica" synth --preset gemma2-bench -o "$g_hf" --force >&2
[ -f "$scratch/gemma2-f32-onnx/model.onnx" ] || "$arica" export-onnx "$g_hf" -o "$scratch/gemma2-f32-onnx" --force >&2
[ -f "$scratch/gemma2-q4_0.arica" ] || "$arica" quantize "$g_hf" -o "$scratch/gemma2-q4_0.arica" --scheme q4_0 >&2
[ -f "$scratch/gemma2-q4_0-onnx/model.onnx" ] || "$arica" export-onnx "$scratch/gemma2-q4_0.arica" \
  -o "$scratch/gemma2-q4_0-onnx" --force >&2
[ -f "$scratch/bench-f32-onnx/model.onnx" ] || "$arica" export-onnx "$b_hf" -o "$scratch/bench-f32-onnx" --force >&2
[ -f "$scratch/bench-q4_0.arica" ] || "$arica" quantize "$b_hf" -o "$scratch/bench-q4_0.arica" --scheme q4_0 \
  --quantize-head >&2
[ -f "$scratch/bench-q4_0-onnx/model.onnx" ] || "$arica" export-onnx "$scratch/bench-q4_0.arica" \
  -o "$scratch/bench-q4_0-onnx" --force >&2

echo "load before: $(uptime)" >&2
printf '| model | weights | data bytes | warm tok/s (min-max) | prompt tok/s |\n| --- | --- | ---: | ---: | ---: |\n'
for m in "gemma2 f32 gemma2-f32-onnx false" "gemma2 q4_0 gemma2-q4_0-onnx true" "llama f32 bench-f32-onnx false" \
    "llama q4_0 bench-q4_0-onnx true"; do
  set -- $m
  r=$(warm_in "$root" "$scratch/$3" "$4")
  printf '| %s | %s | %s | %s (%s-%s) | %s |\n' "$1" "$2" "$(stat -c %s "$scratch/$3/model.onnx.data")" \
    "$(w "$r" decode_median)" "$(w "$r" decode_min)" "$(w "$r" decode_max)" "$(w "$r" prefill_median)"
done
if [ -n "${BEFORE:-}" ]; then
  printf '\n| llama export | round | before tok/s (min-max) | after tok/s (min-max) |\n| --- | ---: | ---: | ---: |\n'
  for m in "f32 bench-f32-onnx false" "q4_0 bench-q4_0-onnx true"; do
    set -- $m
    for i in $(seq "$rounds"); do
      b=$(warm_in "$BEFORE" "$scratch/$2" "$3")
      a=$(warm_in "$root" "$scratch/$2" "$3")
      printf '| %s | %d | %s (%s-%s) | %s (%s-%s) |\n' "$1" "$i" "$(w "$b" decode_median)" "$(w "$b" decode_min)" \
        "$(w "$b" decode_max)" "$(w "$a" decode_median)" "$(w "$a" decode_min)" "$(w "$a" decode_max)"
    done
  done
fi
echo "load after: $(uptime)" >&2
