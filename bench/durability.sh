#!/usr/bin/env bash
# Durability benchmark (issue 19): what flushing outputs to disk before publishing them costs. `convert` (to one
# f16 file, and to a sharded f16 directory) and `quantize --scheme q8_0` of the 2.2 GB f32 benchmark model, each
# run with the flushes (the default) and without (-Darica.fsync=false, a switch for this measurement only),
# alternating, best of RUNS runs each (default 3), input in the page cache; next to the machine primitive in the
# same run: `dd` writing as many bytes into a new file, without and with conv=fsync. When strace is installed, one
# more run with the flushes counts the time spent inside fsync at commit (what the command waits for) and inside
# the background fdatasync of WriteBehind (overlapping the writing).
# Usage: bench/durability.sh [SCRATCH_DIR]   (default /tmp/arica-bench; about 4 GB of disk)
set -eu
. "$(dirname "$0")/bench-model-lib.sh"
echo "load before: $(uptime)" >&2

# timed OUT COMMAND...: seconds of one fresh run of COMMAND writing OUT (removed first, dirty pages flushed).
timed() {
  local out=$1 s e
  shift
  rm -rf "$out"; sync; sleep 1
  s=$(now)
  "$@" >/dev/null 2>&1
  e=$(now)
  echo "$e - $s" | bc -l
}

# row LABEL OUT COMMAND...: best with and without the flushes, and dd of as many bytes without and with fsync.
row() {
  local label=$1 out=$2 with=999 without=999 dd=999 ddsync=999 t bytes
  shift 2
  for i in $(seq "$runs"); do
    t=$(ARICA_JAVA_OPTS="-Xmx512m" timed "$out" "$@"); (( $(echo "$t < $with" | bc -l) )) && with=$t
    t=$(ARICA_JAVA_OPTS="-Xmx512m -Darica.fsync=false" timed "$out" "$@"); (( $(echo "$t < $without" | bc -l) )) && without=$t
  done
  bytes=$(du -sb "$out" | cut -f1)
  local blocks=$(( (bytes + 4194303) / 4194304 ))
  for i in $(seq "$runs"); do
    t=$(timed "$scratch/dd.out" dd if=/dev/zero of="$scratch/dd.out" bs=4M count=$blocks); (( $(echo "$t < $dd" | bc -l) )) && dd=$t
    t=$(timed "$scratch/dd.out" dd if=/dev/zero of="$scratch/dd.out" bs=4M count=$blocks conv=fsync); (( $(echo "$t < $ddsync" | bc -l) )) && ddsync=$t
  done
  local inside="(no strace)"
  if command -v strace >/dev/null; then
    rm -rf "$out"; sync; sleep 1
    ARICA_JAVA_OPTS="-Xmx512m" strace -f -qq -e trace=fsync,fdatasync -T -o "$scratch/strace.txt" "$@" >/dev/null 2>&1
    # force(true) at commit is fsync, on the writer's path; WriteBehind's force(false) is fdatasync, in the background.
    inside=$(awk -F'<' '/ fsync\(/ {gsub(">", "", $NF); t += $NF; n++} / fdatasync\(/ {gsub(">", "", $NF); b += $NF; m++}
      END {printf "%.3f s in %d fsync at commit; %.3f s in %d fdatasync behind", t, n, b, m}' "$scratch/strace.txt")
  fi
  rm -rf "$out" "$scratch/dd.out" "$scratch/strace.txt"
  printf '| %s | %s | %.3f s | %.3f s | %+.3f s (%+.1f %%) | %s | %.3f s | %.3f s |\n' "$label" "$bytes" "$without" "$with" \
    "$(echo "$with - $without" | bc -l)" "$(echo "100 * ($with - $without) / $without" | bc -l)" "$inside" "$dd" "$ddsync"
}

printf '| command | bytes written | without flushes | with flushes (default) | difference | inside fsync (strace) | `dd` | `dd conv=fsync` |\n'
printf '| --- | --- | --- | --- | --- | --- | --- | --- |\n'
row '`convert --dtype f16` (one file)' "$scratch/out-f16.safetensors" "$arica" convert "$dir" -o "$scratch/out-f16.safetensors" --dtype f16
row '`convert --dtype f16 --max-shard-size 300MB` (directory)' "$scratch/out-f16" "$arica" convert "$dir" -o "$scratch/out-f16" --dtype f16 --max-shard-size 300MB
row '`quantize --scheme q8_0`' "$scratch/out-q8_0.arica" "$arica" quantize "$dir" -o "$scratch/out-q8_0.arica" --scheme q8_0
echo "load after: $(uptime)" >&2
