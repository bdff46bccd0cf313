#!/usr/bin/env bash
# Calibrated 4-bit benchmark (issue 18): `quantize --method rtn|search|gptq` of the 2.2 GB f32 benchmark model (hidden
# 2048, intermediate 5632, 8 layers, vocab 32000), one run each under nice with -Xmx1g: wall and CPU seconds, peak RSS,
# peak heap (largest heap before a GC, from -Xlog:gc), next to the `cat` read of the input measured in the same run;
# then `validate` of each file against the f32 model on the default validation texts (top-1 agreement, mean KL).
# The synthetic model has no tokenizer: calibration and validation use stories260K's (ids < 512 are valid ids).
# Usage: bench/calibrated.sh [SCRATCH_DIR]   (default /tmp/arica-bench-calib; about 5 GB of disk)
set -eu
set -- "${1:-/tmp/arica-bench-calib}"
. "$(dirname "$0")/bench-model-lib.sh"
tok="$root/testdata/models/stories260K/tok512.bin"
tokens="${TOKENS:-512}"
echo "load before: $(uptime)" >&2
printf '| measurement | value |\n| --- | --- |\n'
printf '| input: the bench preset, f32, one file | %s bytes |\n' "$in_bytes"
printf '| `cat` read of the input | %.3f s, %s GB/s |\n' "$cat_s" "$(gbs "$in_bytes" "$cat_s")"
run() { # LABEL OUT ARGS...: one quantize run, one table row
  local label=$1 out=$2 gc="$scratch/gc-$1.log"
  shift 2
  rm -f "$out" "$gc"
  ARICA_JAVA_OPTS="-Xmx1g -Xlog:gc:file=$gc" /usr/bin/time -f "%e %U %S %M" -o "$scratch/time" \
    nice "$arica" quantize "$dir" -o "$out" --no-digest-cache --tokenizer "$tok" "$@" >/dev/null 2>"$scratch/err"
  read -r wall user sys rss <"$scratch/time"
  heap=$(grep -o '[0-9]*M->' "$gc" | sed 's/M->//' | sort -n | tail -n1)
  calib=$(grep -o 'calibration: .*' "$scratch/err" | sed 's/^calibration: //' || true)
  printf '| `quantize %s` | %.1f s wall, %.1f s CPU; peak RSS %s MB, peak heap %s MB; %s |\n' "${*//|/\\|}" "$wall" \
    "$(echo "$user + $sys" | bc -l)" "$((rss / 1024))" "${heap:-?}" "${calib:-no calibration}"
  echo "load after $label: $(uptime)" >&2
}
run rtn-int4 "$scratch/rtn-int4.arica" --scheme int4 --asymmetric
run search-int4 "$scratch/search-int4.arica" --scheme int4 --asymmetric --method search --calibration-tokens "$tokens"
run gptq-int4 "$scratch/gptq-int4.arica" --scheme int4 --asymmetric --method gptq --calibration-tokens "$tokens"
run gptq-mixed "$scratch/gptq-mixed.arica" --scheme int4 --asymmetric --group-size 64 --method gptq \
  --tensor-scheme '(k|v)_proj=int8' --calibration-tokens "$tokens"
run rtn-q4 "$scratch/rtn-q4.arica" --scheme q4_0
run search-q4 "$scratch/search-q4.arica" --scheme q4_0 --method search --calibration-tokens "$tokens"
printf '\n| against f32 (validate) | top-1 agreement | mean KL |\n| --- | --- | --- |\n'
for f in rtn-int4 search-int4 gptq-int4 gptq-mixed rtn-q4 search-q4; do
  nice "$arica" validate --reference "$dir" --candidate "$scratch/$f.arica" --tokenizer "$tok" --device cpu \
    --cache-dir "$scratch/cache" --json "$scratch/$f-validate.json" >/dev/null 2>&1 || true
  python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['teacher_forced']; print('| %s | %.4f | %.4e |' % (sys.argv[2], t['top1_agreement'], t['mean_kl']))" \
    "$scratch/$f-validate.json" "$f"
done
echo "load at the end: $(uptime)" >&2
