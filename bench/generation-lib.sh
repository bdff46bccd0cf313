# Sourced by the generation benchmarks (generate.sh, quantized.sh): their shared setup and helpers.
# Expects $1 (the scratch directory, optional) to be passed on as "$@" and sets: root, scratch, threads, new,
# stories, tok, arica, prompt, jdk, b_hf (the benchmark model, written by synth when missing).
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scratch="${1:-${ARICA_BENCH_DIR:-/tmp/arica-bench}}"
threads="${THREADS:-2}"
new="${NEW_TOKENS:-32}"
stories="$root/testdata/models/stories260K"
tok="$stories/tok512.bin"
arica="$root/bin/arica"
prompt="Once upon a time"
mkdir -p "$scratch"
if [ ! -f "$root/cli/target/arica-cli.jar" ] || [ ! -f "$root/bench/target/arica-bench.jar" ]; then
  "$root/bin/mvn" -q -B -ntp -pl cli,bench -am package -DskipTests
fi
jdk=$("$root/bin/find-jdk")
b_hf="$scratch/bench-hf"
[ -f "$b_hf/config.json" ] || "$arica" synth --preset bench -o "$b_hf" --force >&2

now() { date +%s.%N; }
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
field() { grep -o "\"$1\" : [0-9.]*" | awk '{print $3}'; }

# Median seconds of $runs reads of file $1 by `cat`, the page cache warmed first: the machine primitive.
cat_seconds() {
  cat "$1" >/dev/null
  for i in $(seq "$runs"); do s=$(now); cat "$1" >/dev/null; e=$(now); echo "$e - $s" | bc -l; done | median
}

# Median tokens_per_second of $runs fresh `arica generate $1` processes ($new tokens, greedy, $threads threads); the
# arguments after $1 are more options of generate.
cli_rate() {
  local model=$1
  shift
  for i in $(seq "$runs"); do
    "$arica" generate "$model" --tokenizer "$tok" --prompt "$prompt" --max-new-tokens "$new" --temperature 0 \
      --threads "$threads" --device cpu --json "$@" 2>/dev/null | field tokens_per_second
  done | median
}

# GenerateBench's RESULT line for $1: $2 untimed warm-up generations, then $runs timed; $3 true to prepack.
warm_result() {
  "$jdk/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
    -cp "$root/bench/target/arica-bench.jar:$root/bench/target/lib/*" dev.arica.bench.GenerateBench \
    "$1" "$tok" "$threads" "$new" "$2" "$runs" "$3" 2>/dev/null | grep '^RESULT'
}
