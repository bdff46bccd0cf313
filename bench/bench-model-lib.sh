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
