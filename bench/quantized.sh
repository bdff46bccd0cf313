#!/usr/bin/env bash
# Quantized generation benchmark (issue 5): the 2.2 GB f32 benchmark model (synth --preset bench: hidden 2048,
# 8 layers, vocab 32000, untied) as f32, f16, and .arica q8_0, q4_0 and int4 g32 asymmetric (projections and
# lm_head quantized, as llama.cpp quantizes output.weight; the embedding table stays f32: Gather reads one row
# a token), each exported with export-onnx (MatMulNBits for the .arica files), then:
#   size   bytes of the .arica file and of the export (model.onnx + model.onnx.data)
#   cat    the machine primitive of the same run: `cat` of the export's data file (page cache warm)
#   cli    median tokens_per_second of RUNS fresh `arica generate DIR --max-new-tokens NEW_TOKENS --json`
#   warm   dev.arica.bench.GenerateBench: the same generation in one JVM after WARMUP untimed runs (median, min-max)
# with THREADS=2 ONNX Runtime threads on the CPU, greedy, prompt "Once upon a time" (stories260K's tok512.bin
# encodes it; its ids are valid ids of the model's 32000).
#
# Usage: bench/quantized.sh [SCRATCH_DIR]   (default $ARICA_BENCH_DIR or /tmp/arica-bench; about 9 GB of disk)
set -eu
runs="${RUNS:-3}"
warmup="${WARMUP:-2}"
variants="${VARIANTS:-f32 f16 q8_0 q4_0 int4-asym q8_0-exact q4_0-exact}"
. "$(dirname "$0")/generation-lib.sh"

echo "load before: $(uptime)" >&2
printf '| model | .arica file | ONNX export (graph + data) | `cat` of the data | cli tok/s | warm tok/s (min-max) | warm tok/s x data bytes / cat bandwidth |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for v in $variants; do
  dir="$scratch/bench-$v-onnx"
  arica_size="—"
  prepack=false
  case "$v" in
    f32) [ -f "$dir/model.onnx" ] || "$arica" export-onnx "$b_hf" -o "$dir" --force >&2 ;;
    f16) [ -f "$dir/model.onnx" ] || "$arica" export-onnx "$b_hf" -o "$dir" --dtype f16 --force >&2 ;;
    *)
      # NAME-exact: the same file exported with --accuracy-level 0 (float32 compute) instead of the default 4.
      base=${v%-exact}
      level=4
      [ "$base" = "$v" ] || level=0
      file="$scratch/bench-$base.arica"
      case "$base" in
        int4-asym) q=(--scheme int4 --group-size 32 --asymmetric) ;;
        *) q=(--scheme "$base") ;;
      esac
      [ -f "$file" ] || "$arica" quantize "$b_hf" -o "$file" "${q[@]}" --quantize-head >&2
      [ -f "$dir/model.onnx" ] || "$arica" export-onnx "$file" -o "$dir" --accuracy-level "$level" --force >&2
      arica_size=$(stat -c %s "$file")
      prepack=true
      ;;
  esac
  data="$dir/model.onnx.data"
  onnx_size=$(( $(stat -c %s "$dir/model.onnx") + $(stat -c %s "$data") ))
  cat_s=$(cat_seconds "$data")
  cli=$(cli_rate "$dir")
  warm=$(warm_result "$dir" "$warmup" "$prepack")
  w() { echo "$warm" | grep -o "$1=[0-9.]*" | cut -d= -f2; }
  frac=$(printf "%.2f" "$(echo "$(w decode_median) * $cat_s" | bc -l)")
  printf '| %s | %s | %s | %.3f s, %.2f GB/s | %s | %s (%s-%s) | %s |\n' "$v" "$arica_size" "$onnx_size" "$cat_s" \
    "$(echo "$(stat -c %s "$data") / $cat_s / 1000000000" | bc -l)" "$cli" "$(w decode_median)" "$(w decode_min)" \
    "$(w decode_max)" "$frac"
done
echo "load after: $(uptime)" >&2
