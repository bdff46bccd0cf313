#!/usr/bin/env bash
# What quantization costs on stories260K (issue 5): each scheme quantized by `arica quantize` (projections only,
# the defaults) and measured by `arica validate` against the f32 checkpoint, with the default prompts and
# texts, once with MatMulNBits at accuracy_level 4 (int8 activations, the default) and once at 0 (float32).
# Deterministic: the same figures on every run on the CPU.
#
# Usage: bench/quality.sh [SCRATCH_DIR]   (default $ARICA_BENCH_DIR or /tmp/arica-bench; a few MB)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
scratch="${1:-${ARICA_BENCH_DIR:-/tmp/arica-bench}}/quality"
ref="$root/testdata/models/stories260K/stories260K.bin"
arica="$root/bin/arica"
mkdir -p "$scratch"
printf '| candidate | accuracy_level | top-1 agreement | mean KL | p99 KL | perplexity (f32 %s) | identical greedy positions | `--min-agreement 0.98 --max-kl 0.001` |\n' "ref"
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n'
for scheme in "q8_0" "int8 32" "int8 32 asym" "q4_0" "int4 32" "int4 32 asym"; do
  set -- $scheme
  name=$(echo "$scheme" | tr ' ' '-')
  args=(--scheme "$1")
  [ $# -ge 2 ] && args+=(--group-size "$2")
  [ $# -ge 3 ] && args+=(--asymmetric)
  file="$scratch/$name.arica"
  [ -f "$file" ] || "$arica" quantize "$ref" -o "$file" "${args[@]}" --no-digest-cache >/dev/null 2>&1
  for level in 4 0; do
    dir="$scratch/$name-l$level"
    [ -f "$dir/model.onnx" ] || "$arica" export-onnx "$file" -o "$dir" --accuracy-level "$level" --force >/dev/null 2>&1
    set +e
    "$arica" validate --reference "$ref" --candidate "$dir" --device cpu --threads 1 --min-agreement 0.98 \
      --max-kl 0.001 --json "$scratch/$name-l$level.json" --no-cache >/dev/null 2>&1
    rc=$?
    set -e
    python3 - "$scratch/$name-l$level.json" "$scheme" "$level" "$rc" <<'PY'
import json, sys
o = json.load(open(sys.argv[1])); t = o["teacher_forced"]; g = o["greedy"]
verdict = {"0": "pass (exit 0)", "1": "fail (exit 1)"}.get(sys.argv[4], "exit " + sys.argv[4])
print("| %s | %s | %.4f | %.2e | %.2e | %.4f -> %.4f | %.3f | %s |" % (sys.argv[2].replace(" asym", " asym").replace(" ", " g", 1)
      if sys.argv[2].count(" ") else sys.argv[2], sys.argv[3], t["top1_agreement"], t["mean_kl"], t["p99_kl"],
      t["perplexity_reference"], t["perplexity_candidate"], g["identical_fraction"], verdict))
PY
  done
done
