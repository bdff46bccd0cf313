#!/usr/bin/env bash
# Aricate (testdata/models/tiny-aricate, trained: GRU + additive attention) quantized to q8_0, q4_0 and int8, each
# validated against the float model in the same run on the twelve reference questions: identical greedy answers,
# teacher-forced top-1 agreement, mean KL, file size, and greedy decoding speed of reference and candidate measured
# side by side by validate. CPU.
#
# Usage: bench/aricate.sh [SCRATCH_DIR]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
scratch="${1:-${ARICA_BENCH_DIR:-/tmp/arica-bench}}/aricate"
threads="${THREADS:-2}"
arica="$root/bin/arica"
model="$root/testdata/models/tiny-aricate"
mkdir -p "$scratch"
[ -f "$root/cli/target/arica-cli.jar" ] || "$root/bin/mvn" -q -B -ntp -pl cli -am package -DskipTests
ids=()
while IFS= read -r line; do
  ids+=(--ids "$(sed -E 's/.*"prompt_ids": \[([0-9, ]*)\].*/\1/; s/ //g' <<<"$line")")
done <"$model/reference/qa.jsonl"
echo "load before: $(uptime)" >&2
printf '| scheme | .arica bytes | identical answers | top-1 agreement | mean KL | float tok/s | candidate tok/s |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for scheme in q8_0 q4_0 int8; do
  q="$scratch/tiny-aricate-$scheme.arica"
  "$arica" quantize "$model" --scheme "$scheme" -o "$q" --no-digest-cache >/dev/null
  "$arica" validate --reference "$model" --candidate "$q" "${ids[@]}" --device cpu --threads "$threads" \
    --cache-dir "$scratch/cache" --json - >"$scratch/validate-$scheme.json" || true
  jq -r --arg s "$scheme" --arg bytes "$(stat -c %s "$q")" --arg n $((${#ids[@]} / 2)) \
    '"| \($s) | \($bytes) | \(.greedy.identical_continuations) of \($n) | \(.teacher_forced.top1_agreement) | \(.teacher_forced.mean_kl) | \(.reference.tokens_per_second | floor) | \(.candidate.tokens_per_second | floor) |"' \
    "$scratch/validate-$scheme.json"
done
echo "load after: $(uptime)" >&2
