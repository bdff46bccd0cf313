#!/usr/bin/env bash
# End-to-end scale tuning (issue 18, `quantize --tune-steps`) on stories260K, the repository's own copy: each 4-bit
# recipe quantized without and with `--tune-steps 100` (one run each, wall seconds, CPU seconds and peak RSS of the
# whole command, the tuning line's figures), then `validate` of every file against the f32 checkpoint on the default
# validation texts (top-1 agreement, mean KL), bits per weight from the JSON report. Never in CI (about 8 minutes).
# Usage: bench/tuning.sh [SCRATCH_DIR]   (default /tmp/arica-bench-tuning)
set -eu
root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${1:-/tmp/arica-bench-tuning}"
mkdir -p "$scratch"
arica="$root/bin/arica"
[ -f "$root/cli/target/arica-cli.jar" ] || (cd "$root" && bin/mvn -B -ntp -q package -DskipTests -pl cli -am)
bin="$root/testdata/models/stories260K/stories260K.bin"
tok="$root/testdata/models/stories260K/tok512.bin"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-), $(nproc) cores; load before: $(uptime)" >&2
printf '| stories260K | bits per weight | top-1 agreement | mean KL | quantize | tuning |\n| --- | ---: | ---: | ---: | --- | --- |\n'
run() { # LABEL ARGS...: quantize, validate, one table row
  local label=$1
  shift
  rm -f "$scratch/$label.arica"
  /usr/bin/time -f "%e %U %S %M" -o "$scratch/time" "$arica" quantize "$bin" --tokenizer "$tok" \
    -o "$scratch/$label.arica" --no-digest-cache --report "$scratch/$label-report.json" "$@" >/dev/null 2>"$scratch/err"
  read -r wall user sys rss <"$scratch/time"
  tuning=$(grep -o 'tuning: .*' "$scratch/err" | sed 's/^tuning: //' || true)
  "$arica" validate --reference "$bin" --candidate "$scratch/$label.arica" --tokenizer "$tok" --device cpu \
    --cache-dir "$scratch/cache" --json "$scratch/$label-validate.json" >/dev/null 2>&1
  python3 - "$scratch/$label-report.json" "$scratch/$label-validate.json" "${*//|/\\|}" "$wall" \
    "$(echo "$user + $sys" | bc -l)" "$((rss / 1024))" "${tuning:--}" <<'PY'
import json, sys
report, validate, args, wall, cpu, rss, tuning = sys.argv[1:]
r = json.load(open(report)); v = json.load(open(validate))["teacher_forced"]
q = [t for t in r["tensors"] if t["quantized"]]
bits = 8 * sum(t["raw_bytes"] for t in q) / sum(eval("*".join(map(str, t["shape"]))) for t in q)
print(f"| `{args}` | {bits:.2f} | {v['top1_agreement']:.3f} | {v['mean_kl']:.4f} | {float(wall):.1f} s wall, "
      f"{float(cpu):.1f} s CPU, peak RSS {rss} MB | {tuning} |")
PY
}
mixed=(--scheme int4 --asymmetric --group-size 64 --method gptq --tensor-scheme '(k|v)_proj=int8')
run mixed "${mixed[@]}"
run mixed-tuned "${mixed[@]}" --tune-steps 100
run g32 --scheme int4 --asymmetric --method gptq
run g32-tuned --scheme int4 --asymmetric --method gptq --tune-steps 100
run g64 --scheme int4 --asymmetric --group-size 64 --method gptq
run g64-tuned --scheme int4 --asymmetric --group-size 64 --method gptq --tune-steps 100
run q4 --scheme q4_0 --method gptq
run q4-tuned --scheme q4_0 --method gptq --tune-steps 100
run q4-search-tuned --scheme q4_0 --method search --tune-steps 100
echo "load after: $(uptime)" >&2
