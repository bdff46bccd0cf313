#!/usr/bin/env bash
# GGUF read (issue 16): `arica inspect` of GGUF files from 1 MB to 138 GB takes the same time, because it reads the
# header only. Writes a 7B-shaped Q4_K file (3.9 GB) and a 70B-shaped F16 one (138 GB) as sparse files with a full
# 32,000-token vocabulary (GgufInspectTimeTest, which also records in-process times), then times `arica inspect
# --json` on each and on the bundled stories260K q8_0 file, best of 3 runs, JVM start included.
# Usage: bench/gguf-inspect.sh [SCRATCH_DIR]   (default /tmp/arica-bench; needs a file system with sparse files;
# the files take about 2 MB of disk and are deleted at the end)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scratch="${1:-/tmp/arica-bench}/gguf-inspect.$$"
mkdir -p "$scratch"
trap 'rm -rf -- "$scratch"' EXIT
"$root/bin/mvn" -q -B -ntp -pl formats,cli -am test -Dtest=GgufInspectTimeTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Darica.gguf.benchDir="$scratch" >&2
"$root/bin/mvn" -q -B -ntp -pl cli -am package -DskipTests >&2
secs() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
best() { sort -g | head -n1; }
echo "In-process (median of 5 after 5 warm-ups):"
cat "$root/cli/target/benchmarks/gguf-inspect.md"
echo
echo "| file | size | arica inspect --json (best of 3, JVM start included) |"
echo "| --- | --- | --- |"
start=$(for i in 1 2 3; do secs "$root/bin/arica" --version; done | best)
printf '| (JVM start: arica --version) | - | %.3f s |\n' "$start"
for f in "$root/testdata/models/stories260K/gguf/stories260K-q8_0.gguf" "$scratch/7b-q4_k.gguf" "$scratch/70b-f16.gguf"; do
  t=$(for i in 1 2 3; do secs "$root/bin/arica" inspect "$f" --json; done | best)
  printf '| %s | %s bytes | %.3f s |\n' "$(basename "$f")" "$(stat -c %s "$f")" "$t"
done
