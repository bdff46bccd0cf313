#!/usr/bin/env bash
# Tokenizer speed of arica against Hugging Face tokenizers (issue 14): dev.arica.bench.TokenizeBench encodes and
# decodes one seeded corpus with each bundled tokenizer (all-MiniLM-L6-v2 WordPiece, GPT-2 byte-level BPE,
# unigram-small; stories260K's llama2.c tok512.bin and tiny-aricate's word vocabulary by arica alone), arica and the
# reference (the Rust library through DJL's JNI binding, whose jar carries the native library) in the same JVM,
# single thread, and checks that both give the same ids and text. Prints the machine and a Markdown table.
#
# Usage: bench/tokenize.sh [TEXTS [RUNS [WARMUP]]]     (defaults 20000 texts, 5 timed passes after 2 untimed)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
jdk=$("$root/bin/find-jdk") || { echo "no JDK >= 25 found; see bin/find-jdk" >&2; exit 2; }
if [ ! -f "$root/bench/target/arica-bench.jar" ] || ! compgen -G "$root/bench/target/lib/tokenizers-*.jar" >/dev/null; then
  echo "building ..." >&2
  "$root/bin/mvn" -q -B -ntp -pl bench -am package -Dmaven.test.skip=true >&2
fi
# DJL unpacks the reference's native library here, out of the user's home.
export DJL_CACHE_DIR="$root/bench/target/djl-cache"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
out=$("$jdk/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx2g -Dai.djl.offline=true \
  -cp "$root/bench/target/arica-bench.jar:$root/bench/target/lib/*" dev.arica.bench.TokenizeBench \
  "$root/testdata/models" "${1:-20000}" "${2:-5}" "${3:-2}" 2> >(grep -v '^WARNING: Using incubator modules' >&2))
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
djl=$(cd "$root/bench/target/lib" && ls tokenizers-*.jar | sed 's/^tokenizers-//; s/\.jar$//')
echo "Machine: $(nproc) cores ($cpu), $mem RAM, $("$jdk/bin/java" -version 2>&1 | head -n 1), Hugging Face tokenizers" \
  "through ai.djl.huggingface:tokenizers $djl; load average $load_before before, $load_after after."
echo
echo "$out"
