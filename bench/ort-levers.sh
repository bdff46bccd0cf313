#!/usr/bin/env bash
# ONNX Runtime's levers for a decode step, one at a time (issue 17): the same fresh `arica generate` (generation-lib's
# cli_rate: THREADS 2, NEW_TOKENS 32, tokens/s of the one-token steps) of each MODEL with ORT session config entries
# (ARICA_ORT_CONFIG) or a graph flavour changed, the settings alternating run by run, RUNS (3) rounds, median.
# Usage: bench/ort-levers.sh MODEL... [-- SCRATCH_DIR]   (a .arica file or an HF directory, e.g. bench/peer.sh's files)
set -eu
models=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do models+=("$1"); shift; done
[ $# -gt 0 ] && shift
[ ${#models[@]} -gt 0 ] || { echo "usage: bench/ort-levers.sh MODEL... [-- SCRATCH_DIR]" >&2; exit 2; }
runs_all="${RUNS:-3}"
. "$(dirname "$0")/generation-lib.sh"
export ARICA_CACHE_DIR="$scratch/levers-cache"
levers=(
  "default|"
  "no spinning|session.intra_op.allow_spinning=0"
  "no prepacking|session.disable_prepacking=1"
  "graph standard|--graph standard"
  "graph ort_optimized|--graph ort_optimized"
)
rate() {  # $1 model, $2 lever: config entries, or generate options when it starts with --
  local conf="" opts=()
  case "$2" in --*) read -r -a opts <<<"$2" ;; *) conf=$2 ;; esac
  ARICA_ORT_CONFIG="$conf" runs=1 cli_rate "$1" "${opts[@]}"
}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
for m in "${models[@]}"; do
  declare -A got=()
  for l in "${levers[@]}"; do rate "$m" "${l#*|}" >/dev/null || true; done  # untimed: exports cached
  for i in $(seq "$runs_all"); do
    for l in "${levers[@]}"; do got[${l%%|*}]+="$(rate "$m" "${l#*|}" || true) "; done
  done
  echo "$m"
  for l in "${levers[@]}"; do
    k=${l%%|*}
    printf '  %-22s %s tokens/s  (%s)\n' "$k" "$(printf '%s\n' ${got[$k]} | grep . | median)" "${got[$k]% }"
  done
  unset got
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
