# Sourced by the benchmarks of one pass over the 2.2 GB f32 benchmark model (quantize.sh, export-gguf.sh): the shared
# setup and the machine primitive they are measured against. Expects "$@" (the scratch directory, optional) and sets:
# here, root, scratch, arica, runs, model (synth --preset bench, written when missing), in_bytes, cat_s (best `cat`
# of the warm file), and the helpers now, best, gbs.
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scratch="${1:-/tmp/arica-bench}"
arica="$root/bin/arica"
runs="${RUNS:-3}"
mkdir -p "$scratch"
[ -f "$root/cli/target/arica-cli.jar" ] || "$root/bin/mvn" -q -B -ntp package -DskipTests
dir="$scratch/llama-f32-8l"
[ -f "$dir/model.safetensors" ] || "$arica" synth --preset bench -o "$dir" >&2
model="$dir/model.safetensors"
in_bytes=$(stat -c %s "$model")
now() { date +%s.%N; }
best() { sort -g | head -n1; }
gbs() { echo "scale=3; $1 / $2 / 1000000000" | bc -l; }

cat "$model" >/dev/null  # page cache warm
cat_s=$(for i in $(seq "$runs"); do s=$(now); cat "$model" >/dev/null; e=$(now); echo "$e - $s" | bc -l; done | best)

# one_pass LABEL OUT COMMAND...: best of $runs fresh runs of COMMAND (which writes OUT) under -Xmx512m, each next to
# `dd` writing as many bytes, and one table row: time, GB/s of input, ratios to cat and to cat + dd, peak RSS, bytes.
one_pass() {
  local label=$1 out=$2 t_best=999 rss_best=0 dd_best=999 out_bytes s e t d
  shift 2
  for i in $(seq "$runs"); do
    rm -f "$out"; sync; sleep 1
    s=$(now)
    ARICA_JAVA_OPTS=-Xmx512m /usr/bin/time -f "%M" -o "$scratch/rss" "$@" >/dev/null 2>&1
    e=$(now)
    t=$(echo "$e - $s" | bc -l)
    if (( $(echo "$t < $t_best" | bc -l) )); then t_best=$t; rss_best=$(tail -n1 "$scratch/rss"); fi
    out_bytes=$(stat -c %s "$out")
    rm -f "$out" "$scratch/dd.out"; sync; sleep 1
    s=$(now); dd if=/dev/zero of="$scratch/dd.out" bs=4M count=$(( (out_bytes + 4194303) / 4194304 )) 2>/dev/null; e=$(now)
    d=$(echo "$e - $s" | bc -l)
    if (( $(echo "$d < $dd_best" | bc -l) )); then dd_best=$d; fi
    rm -f "$scratch/dd.out"
  done
  printf '| %s | %.3f s, %s GB/s of input, ratio to cat %s, to cat + dd %s; peak RSS %s MB; wrote %s bytes (dd: %.3f s) |\n' \
    "$label" "$t_best" "$(gbs "$in_bytes" "$t_best")" "$(echo "scale=3; $cat_s / $t_best" | bc -l)" \
    "$(echo "scale=3; ($cat_s + $dd_best) / $t_best" | bc -l)" "$(( rss_best / 1024 ))" "$out_bytes" "$dd_best"
}
