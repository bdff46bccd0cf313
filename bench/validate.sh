#!/usr/bin/env bash
# Validate benchmark (issue 5): wall time of `arica validate` of stories260K's f32 export (reference) against
# its f16 export (candidate) with the defaults (5 prompts, at most 64 new tokens each, teacher forcing on the
# reference's greedy sequences), --device cpu --threads THREADS (1), a fresh JVM per run, median of RUNS (5).
# The machine primitive, timed in the same run: `arica generate` of the f32 export, 64 new tokens after
# "Once upon a time" (one model, one prompt; JVM start, ORT start and session included), and the JVM start
# alone (`arica --version`). validate does for each of its two models what that generate does (start, session,
# greedy decoding), five prompts instead of one, plus an untimed 8-token warm-up and a teacher-forced pass over
# the 363 tokens of the five sequences: the ratio validate / generate is what the second model, the other
# prompts and the comparison cost on top of one generation.
#
# Usage: bench/validate.sh [SCRATCH_DIR]   (default $ARICA_BENCH_DIR or /tmp/arica-bench; a few MB of disk)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scratch="${1:-${ARICA_BENCH_DIR:-/tmp/arica-bench}}"
runs="${RUNS:-5}"
threads="${THREADS:-1}"
stories="$root/testdata/models/stories260K"
arica="$root/bin/arica"
mkdir -p "$scratch"
[ -f "$root/cli/target/arica-cli.jar" ] || "$root/bin/mvn" -q -B -ntp -pl cli -am package -DskipTests
f32="$scratch/stories260K-onnx"
f16="$scratch/stories260K-onnx-f16"
[ -f "$f32/model.onnx" ] || "$arica" export-onnx "$stories/stories260K.bin" -o "$f32" --force >&2
[ -f "$f16/model.onnx" ] || "$arica" export-onnx "$stories/stories260K.bin" -o "$f16" --dtype f16 --force >&2

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
timed() { local s e; s=$(now); "$@" >/dev/null 2>&1 || true; e=$(now); echo "$e - $s" | bc -l; }

load_before=$(uptime)
"$arica" validate --reference "$f32" --candidate "$f16" --device cpu --threads "$threads" \
  --json "$scratch/validate.json" >"$scratch/validate.txt" 2>&1
jvm=$(for i in $(seq "$runs"); do timed "$arica" --version; done | median)
gen=$(for i in $(seq "$runs"); do
  timed "$arica" generate "$f32" --prompt "Once upon a time" --max-new-tokens 64 --device cpu --threads "$threads"
done | median)
val=$(for i in $(seq "$runs"); do
  timed "$arica" validate --reference "$f32" --candidate "$f16" --device cpu --threads "$threads" \
    --min-agreement 0.98 --max-kl 0.001
done | median)
printf '| measurement | wall time (median of %s) |\n| --- | ---: |\n' "$runs"
printf '| JVM start (`arica --version`) | %.3f s |\n' "$jvm"
printf '| `arica generate` f32, 64 new tokens | %.3f s |\n' "$gen"
printf '| `arica validate` f32 vs f16, defaults | %.3f s |\n' "$val"
printf '| **validate / generate** | **%.2f** |\n' "$(echo "$val / $gen" | bc -l)"
printf '| validate / generate, JVM start taken off both | %.2f |\n' "$(echo "($val - $jvm) / ($gen - $jvm)" | bc -l)"
echo
grep -E 'top-1 agreement [0-9]|^speed|^result' "$scratch/validate.txt"
echo
echo "threads $threads; $(nproc) cores"
echo "load before: $load_before"
echo "load after:  $(uptime)"
