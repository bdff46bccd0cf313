#!/usr/bin/env bash
# Safetensors read: arica's mmap reader vs DJL (ai.djl:api, no engine), against `cat FILE > /dev/null`.
#
# Builds the bench module, writes two synthetic single-file f32 checkpoints (the BENCH preset with 3 layers,
# about 1.1 GB, and with 14 layers, about 3.4 GB = 3.17 GiB, past DJL's 2 GiB limit), then reads every byte of
# each with each reader, every run in a fresh JVM, and prints a markdown table. The files are deleted at the
# end, also on failure or Ctrl-C.
#
# Usage: bench/safetensors-read.sh [SCRATCH_DIR]      (default $ARICA_BENCH_DIR or /tmp/arica-bench)
# Environment:
#   REPEAT=5        runs of each measurement (the table gives the median); failing DJL runs are done once
#   SMALL_LAYERS=3  LARGE_LAYERS=14
#   COLD=1          drop the page cache before every timed run (needs root); default: warm cache,
#                   every file read once before the first timed run
#   KEEP=1          keep the generated files
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
scratch=${1:-${ARICA_BENCH_DIR:-/tmp/arica-bench}}
repeat=${REPEAT:-5}
small_layers=${SMALL_LAYERS:-3}
large_layers=${LARGE_LAYERS:-14}
cold=${COLD:-0}

jdk=$("$root/bin/find-jdk") || { echo "no JDK >= 25 found; see bin/find-jdk" >&2; exit 2; }
java="$jdk/bin/java"
jvm_flags=(--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseG1GC)

mkdir -p "$scratch"
scratch=$(cd "$scratch" && pwd)
work="$scratch/safetensors-read.$$"
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "kept $work" >&2
  else
    rm -rf -- "$work"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$work"

echo "building ..." >&2
"$root/bin/mvn" -q -pl bench -am package -Dmaven.test.skip=true >&2  # no test compilation: a broken test elsewhere must not stop a benchmark
cp=("$root/bench/target/arica-bench.jar:$root/bench/target/lib/*")

bench() {  # bench XMX ARGS...
  local xmx=$1; shift
  "$java" "${jvm_flags[@]}" "-Xmx$xmx" -cp "${cp[@]}" dev.arica.bench.SafetensorsReadBench "$@" \
    2> >(grep -v '^WARNING: Using incubator modules' >&2)
}

need=$(( (small_layers + large_layers) * 210 / 1000 + 2 ))
avail=$(df -Pk "$work" | awk 'NR == 2 { print int($4 / 1048576) }')
if [ "$avail" -lt "$need" ]; then
  echo "need about $need GiB free in $work, have $avail GiB" >&2
  exit 1
fi

files=()
for layers in "$small_layers" "$large_layers"; do
  echo "generating BENCH with $layers layers (f32, one file) ..." >&2
  files+=("$(bench 2g generate "$work/bench-$layers-layers" "$layers" | tail -n 1)")
done

drop_cache() {
  if [ "$cold" = 1 ]; then
    sync
    echo 3 > /proc/sys/vm/drop_caches || { echo "COLD=1 needs root (cannot write /proc/sys/vm/drop_caches)" >&2; exit 1; }
  fi
}

results="$work/results.tsv"
: > "$results"
failed_once=" "
run_reader() {  # run_reader READER XMX FILE
  local key="$1/$2/$3" line
  case "$failed_once" in *" $key "*) return 0 ;; esac  # a run that failed is not repeated
  drop_cache
  line=$(bench "$2" "$1" "$3" | grep '^RESULT' || true)
  if [ -z "$line" ]; then
    echo "$1 -Xmx$2 on $3 printed no result" >&2
    return 0
  fi
  echo "$line" >> "$results"
  case "$line" in *$'\tok=false'*) failed_once="$failed_once$key " ;; esac
}

time_cat() {  # time_cat FILE: a RESULT line for cat FILE > /dev/null
  local f=$1 t0 t1 bytes label
  drop_cache
  t0=$(date +%s%N)
  cat "$f" > /dev/null
  t1=$(date +%s%N)
  bytes=$(stat -c %s "$f")
  label="$(basename "$(dirname "$f")")/$(basename "$f")"
  printf 'RESULT\treader=cat\tfile=%s\tbytes=%s\tok=true\tseconds=%s\n' "$label" "$bytes" \
    "$(awk -v n=$((t1 - t0)) 'BEGIN { printf "%.3f", n / 1e9 }')" >> "$results"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
if [ "$cold" != 1 ]; then
  for f in "${files[@]}"; do cat "$f" > /dev/null; done  # warm the page cache
fi
for ((i = 1; i <= repeat; i++)); do
  echo "round $i of $repeat ..." >&2
  for f in "${files[@]}"; do
    time_cat "$f"
    run_reader arica 8g "$f"
    run_reader arica 256m "$f"
    run_reader djl 8g "$f"
    run_reader djl-capped 8g "$f"
    run_reader djl 256m "$f"
  done
done

load_after=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || echo unknown)
echo
echo "Safetensors read, $( [ "$cold" = 1 ] && echo "cold page cache" || echo "warm page cache"), median of $repeat runs" \
  "(failing runs once), every run a fresh JVM; $(nproc) cores ($cpu), $mem RAM, $("$java" -version 2>&1 | head -n 1);" \
  "load average $load_before before the timed runs, $load_after after."
echo
bench 256m table "$results"
