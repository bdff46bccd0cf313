#!/usr/bin/env bash
# The long fuzzing campaign (issue 19): each reader's Jazzer target of module fuzz run for SECONDS, one after
# the other, under the heap CI uses (-Xmx96m), with a corpus that lives outside the repository and grows
# from run to run (run again with the same CORPUS_DIR to continue the campaign). Prints one Markdown row per
# target: executions, exec/s, coverage (libFuzzer's cov: edges and ft: features, as Jazzer reports them),
# corpus size and findings; each finding's input is kept under CORPUS_DIR/findings/TARGET/.
# Usage: bench/fuzz.sh [-s SECONDS] [-c CORPUS_DIR] [TARGET...]   (defaults: 600 s, /tmp/arica-fuzz-corpus, all)
#        bench/fuzz.sh seeds   (rewrites the checked-in seed corpora and siblings with SeedCorpus)
# TARGET is a class of fuzz/src/test/java/dev/arica/fuzz without "FuzzTest" (Safetensors, Gguf, ...).
# Extra Maven arguments (e.g. -o) go in MVN_ARGS; run it under `nice -n 19` on a shared machine.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=600
corpus=/tmp/arica-fuzz-corpus
while getopts "s:c:" opt; do
  case $opt in
    s) seconds=$OPTARG ;;
    c) corpus=$OPTARG ;;
    *) echo "usage: bench/fuzz.sh [-s SECONDS] [-c CORPUS_DIR] [TARGET...] | seeds" >&2; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
cp_file="$root/fuzz/target/fuzz.classpath"
# shellcheck disable=SC2086
"$root/bin/mvn" -B -ntp -q ${MVN_ARGS:-} test-compile dependency:build-classpath -Dmdep.outputFile="$cp_file" \
  -Dmdep.includeScope=test -pl fuzz -am
java="$("$root/bin/find-jdk")/bin/java"
classpath="$root/fuzz/target/test-classes:$(cat "$cp_file")"
flags="--add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED"
if [ "${1:-}" = seeds ]; then
  # shellcheck disable=SC2086
  exec "$java" $flags -cp "$classpath" dev.arica.fuzz.SeedCorpus "$root/fuzz/src/test/resources"
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in "$root"/fuzz/src/test/java/dev/arica/fuzz/*FuzzTest.java; do
    n=$(basename "$f" .java)
    targets+=("${n%FuzzTest}")
  done
fi
mkdir -p "$corpus/logs"
echo "load before: $(uptime)" >&2
printf '| target | seconds | executions | exec/s | cov (edges) | ft (features) | corpus | findings |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n'
for t in "${targets[@]}"; do
  class="dev.arica.fuzz.${t}FuzzTest"
  src="$root/fuzz/src/test/java/dev/arica/fuzz/${t}FuzzTest.java"
  # the one @FuzzTest method of the class: its seeds are in <Class>Inputs/<method>
  method=$(grep -A1 '@FuzzTest' "$src" | sed -n 's/.*void \([a-zA-Z0-9]*\)(.*/\1/p' | head -1)
  seeds="$root/fuzz/src/test/resources/dev/arica/fuzz/${t}FuzzTestInputs/$method"
  mkdir -p "$corpus/$t" "$corpus/findings/$t"
  log="$corpus/logs/$t.log"
  start=$(date +%s)
  # shellcheck disable=SC2086
  ( cd "$root/fuzz" && "$java" $flags -Xmx96m -cp "$classpath" com.code_intelligence.jazzer.Jazzer \
      --target_class="$class" --target_method="$method" \
      --instrumentation_includes='dev.arica.**:com.fasterxml.jackson.core.**:com.google.protobuf.**' \
      --custom_hooks=dev.arica.fuzz.FileAccessHooks --keep_going=100 \
      --disabled_hooks=com.code_intelligence.jazzer.sanitizers.RegexInjection \
      -max_total_time="$seconds" -timeout=300 -rss_limit_mb=0 -print_final_stats=1 \
      -artifact_prefix="$corpus/findings/$t/" "$corpus/$t" "$seeds" ) > "$log" 2>&1 || true
  took=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | tail -1)
  cov=$(echo "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
  ft=$(echo "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
  corp=$(echo "$last" | sed -n 's/.* corp: \([^ ]*\).*/\1/p')
  found=$(find "$corpus/findings/$t" -type f | wc -l)
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$took" "${runs:-?}" \
    "$(( ${runs:-0} / (took > 0 ? took : 1) ))" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$found"
done
echo "load after: $(uptime)" >&2
