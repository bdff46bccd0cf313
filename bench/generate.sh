#!/usr/bin/env bash
# Generation benchmark (issue 4): greedy decoding speed of `arica generate` on the CPU (THREADS=2 ORT threads),
# NEW_TOKENS=32 new tokens after a short prompt, for stories260K and the 2.2 GB f32 benchmark model (synth
# --preset bench, exported with export-onnx), and the start-up time until the first token. Next to them, the
# machine primitive of the same run: `cat` read bandwidth of the model's weights file (page cache warm). f32
# decoding reads every weight once per token, so tok/s x weight bytes / cat bandwidth is the fraction of that
# bandwidth decoding reaches.
#
# Three figures per model, medians of RUNS runs:
#   cli   `arica generate DIR --max-new-tokens 32 --json`, a fresh JVM each run: tokens_per_second (decoding
#         steps per second, the prompt excluded), what a user sees, JIT warm-up included;
#   warm  dev.arica.bench.GenerateBench: the same generation in one JVM after WARMUP untimed ones, as llama.cpp's
#         llama-bench measures (it warms up too);
#   ttft  wall time of `arica generate DIR --max-new-tokens 1`: JVM start, ORT start, session, prompt, first token.
# The bench model has no tokenizer: stories260K's tok512.bin (ids 0..511, all valid ids of the model's 32000)
# encodes the prompt; the generated ids past 511 have no text, which does not matter here.
#
# Usage: bench/generate.sh [SCRATCH_DIR]   (default $ARICA_BENCH_DIR or /tmp/arica-bench; about 4.5 GB of disk)
set -eu
runs="${RUNS:-5}"
. "$(dirname "$0")/generation-lib.sh"

s_dir="$scratch/stories260K-onnx"
[ -f "$s_dir/model.onnx" ] || "$arica" export-onnx "$stories/stories260K.bin" -o "$s_dir" --force >&2
b_dir="$scratch/bench-onnx"
[ -f "$b_dir/model.onnx" ] || "$arica" export-onnx "$b_hf" -o "$b_dir" --force >&2
# The ORT-optimized flavour (what generate exports on the fly on the CPU): the same weights, fused operators.
s_ort="$scratch/stories260K-ort-onnx"
[ -f "$s_ort/model.onnx" ] || "$arica" export-onnx "$stories/stories260K.bin" -o "$s_ort" --ort-optimized --force >&2
b_ort="$scratch/bench-ort-onnx"
[ -f "$b_ort/model.onnx" ] || "$arica" export-onnx "$b_hf" -o "$b_ort" --ort-optimized --force >&2

load_before=$(uptime)
printf '| model | weights | `cat` read | cli tok/s | warm tok/s (min-max) | warm x bytes / cat bandwidth | prompt tok/s (warm) | time to first token | ORT start + session open |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for m in ${MODELS:-stories260K stories260K-ort bench bench-ort}; do
  case "$m" in
    stories260K) dir=$s_dir; warmup=${WARMUP:-20} ;;
    stories260K-ort) dir=$s_ort; warmup=${WARMUP:-20} ;;
    bench) dir=$b_dir; warmup=${WARMUP:-2} ;;
    *) dir=$b_ort; warmup=${WARMUP:-2} ;;
  esac
  data="$dir/model.onnx.data"
  bytes=$(stat -c %s "$data")
  cat_s=$(cat_seconds "$data")
  cli=$(cli_rate "$dir")
  ttft=$(for i in $(seq "$runs"); do
    s=$(now)
    "$arica" generate "$dir" --tokenizer "$tok" --prompt "$prompt" --max-new-tokens 1 --threads "$threads" --device cpu \
      --json >/dev/null 2>&1
    e=$(now); echo "$e - $s" | bc -l
  done | median)
  warm=$(warm_result "$dir" "$warmup" false)
  w() { echo "$warm" | grep -o "$1=[0-9.]*" | cut -d= -f2; }
  # A 1 MB file is read from the caches in the time cat takes to start: no bandwidth to compare with.
  if [ "${m#stories260K}" != "$m" ]; then frac="—"; else frac=$(printf '%.2f' "$(echo "$(w decode_median) * $cat_s" | bc -l)"); fi
  printf '| %s | %s bytes | %.3f s, %.2f GB/s | %s | %s (%s-%s) | %s | %s | %.2f s | %s ms |\n' "$m" "$bytes" "$cat_s" \
    "$(echo "$bytes / $cat_s / 1000000000" | bc -l)" "$cli" "$(w decode_median)" "$(w decode_min)" "$(w decode_max)" \
    "$frac" "$(w prefill_median)" "$ttft" "$(w open_ms)"
done
echo
echo "threads $threads, $new new tokens after \"$prompt\", greedy, medians of $runs runs; $(nproc) cores"
echo "load before: $load_before"
echo "load after:  $(uptime)"
