#!/usr/bin/env bash
# arica next to llama.cpp, measured in one run on one machine (issue 17). Never compare with another machine's figures.
# The 2.2 GB f32 benchmark model (synth --preset bench), like with like:
#   - llama.cpp's f32 file is arica's own `export-gguf --type f32` of that model; its q8_0 and q4_0 files are made by
#     llama-quantize (q8_0, and q4_0 with --pure), which quantize every matrix, embedding table and output head
#     included, so arica's .arica files are made with --quantize-head --quantize-embeddings (the same blocks);
#   - generation: llama-bench -t THREADS -p 0 -n NEW_TOKENS -r 1 (after its own warm-up run) against
#     `arica generate FILE --threads THREADS --max-new-tokens NEW_TOKENS --json` (tokens_per_second counts one-token
#     decode steps, as llama-bench's tg does) after one untimed run that fills the ONNX export cache;
#   - quantize: wall time of a fresh process, output file removed and dirty pages synced first, input in the page
#     cache (one untimed run of each tool first);
#   - the tools alternate run by run (arica, llama.cpp, arica, ...), RUNS rounds (default 3), median of each: a load
#     spike on a shared machine then hits both sides rather than one.
# Ratios are arica / llama.cpp: tokens per second for generation, speed (llama.cpp seconds / arica seconds) for
# quantize; above 1.0 arica is faster.
#
# Usage: bench/peer.sh PEER_BIN_DIR [SCRATCH_DIR]   (PEER_BIN_DIR holds llama-bench and llama-quantize, built for this
#        machine: GGML_NATIVE, so with its AVX-512 kernels, as issue 17 asks; -p 0 keeps llama-bench off batched
#        evaluation, where the native build crashes in GGML's AMX kernel on a VM that reports AMX. Scratch default
#        $ARICA_BENCH_DIR or /tmp/arica-bench; files under SCRATCH/peer, about 7 GB with the export cache)
set -eu
[ $# -ge 1 ] || { echo "usage: bench/peer.sh PEER_BIN_DIR [SCRATCH_DIR]" >&2; exit 2; }
peer=$(cd "$1" && pwd)
shift
runs="${RUNS:-3}"
. "$(dirname "$0")/generation-lib.sh"   # root, scratch, threads, new, tok, arica, b_hf, now, median, cli_rate
work="$scratch/peer"
mkdir -p "$work"
rm -f "$work/llama-bench.jsonl" "$work/llama-bench.log" "$work/quantize.log"  # this run's only
# Keep arica's on-the-fly ONNX exports (and the digest cache) with the other scratch files, deleted together.
export ARICA_CACHE_DIR="$work/cache"

# --- one measurement each; every function prints one number, or nothing when the tool failed -------------------

# tokens/s of one llama-bench run of $1 (its own warm-up run comes first, untimed).
llama_rate() {
  "$peer/llama-bench" -m "$1" -t "$threads" -p 0 -n "$new" -r 1 -o jsonl 2>>"$work/llama-bench.log" \
    | tee -a "$work/llama-bench.jsonl" | grep -o '"avg_ts": [0-9.]*' | awk '{print $2}' || true
}
# tokens/s of one fresh `arica generate $1` (generation-lib's cli_rate, one run).
arica_rate() { runs=1 cli_rate "$1" || true; }
# seconds of one fresh quantizing process: $1 the output file, the rest the command.
seconds() {
  local out=$1
  shift
  rm -rf "$out"
  sync
  sleep 1
  local s e
  s=$(now)
  "$@" >/dev/null 2>>"$work/quantize.log" || return 0
  e=$(now)
  echo "$e - $s" | bc -l
}
arica_quantize() {
  seconds "$work/arica-$1.arica" "$arica" quantize "$b_hf" -o "$work/arica-$1.arica" --scheme "$1" \
    --threads "$threads" --quantize-head --quantize-embeddings ${2:-}
}
# The machine primitive for the file commands: cp of the input, then (for an output larger than the input) the rest of
# the bytes the command writes taken from the input's start again, so both write as much (this VM's writes slow down
# once GBs are dirty).
cp_bytes() {
  local n=$1 size
  size=$(stat -c %s "$b_hf/model.safetensors")
  seconds "$work/cp" sh -c "mkdir '$work/cp' && cp '$b_hf/model.safetensors' '$work/cp/a' && \
    if [ $n -gt $size ]; then head -c $((n - size)) '$b_hf/model.safetensors' >'$work/cp/b'; fi${2:+ && sync $work/cp/* $work/cp}"
}
# The same, flushed to disk before it returns (coreutils sync of the files and the directory: fsync), as arica flushes
# every output before publishing it (docs/RELIABILITY.md): the primitive of a durable write.
cp_synced() { cp_bytes "$1" synced; }
arica_convert() { seconds "$work/convert" "$arica" convert "$b_hf" -o "$work/convert" --dtype f16; }
arica_upscale() { seconds "$work/upscale" "$arica" upscale "$b_hf" -o "$work/upscale" --drop 2; }
llama_quantize() {
  local pure=()
  [ "$1" = q4_0 ] && pure=(--pure)  # llama.cpp's q4_0 keeps the output head q8_0 unless --pure
  seconds "$work/llama-$1.gguf" "$peer/llama-quantize" "${pure[@]}" "$work/f32.gguf" "$work/llama-$1.gguf" "$1" \
    "$threads"
}

# --- RUNS alternating rounds of $1 and $2 (commands printing one number); sets a_med a_rng b_med b_rng ------------
spread() { sort -g | awk 'NR == 1 {lo = $1} {hi = $1} END {if (NR) printf "%.2f-%.2f", lo, hi}'; }
alternate() {
  local a=() b=() i x
  for i in $(seq "$runs"); do
    x=$(eval "$1"); [ -n "$x" ] && a+=("$x")
    x=$(eval "$2"); [ -n "$x" ] && b+=("$x")
  done
  echo "  $1: ${a[*]:-failed}; $2: ${b[*]:-failed}" >&2
  a_med=$(printf '%s\n' "${a[@]}" | grep . | median || true)
  b_med=$(printf '%s\n' "${b[@]}" | grep . | median || true)
  a_rng=$(printf '%s\n' "${a[@]}" | grep . | spread || true)
  b_rng=$(printf '%s\n' "${b[@]}" | grep . | spread || true)
}
cell() { if [ -n "$1" ]; then printf "$3 (%s)" "$1" "$2"; else printf 'failed'; fi; }
ratio() { if [ -n "$1" ] && [ -n "$2" ]; then printf '%.2f' "$(echo "$1 / $2" | bc -l)"; else printf '—'; fi; }

# --- the files, made once ---------------------------------------------------------------------------------------
[ -f "$work/f32.gguf" ] || "$arica" export-gguf "$b_hf" -o "$work/f32.gguf" --type f32 >&2
cat "$b_hf/model.safetensors" "$work/f32.gguf" >/dev/null  # both inputs in the page cache

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
for t in q8_0 q4_0; do
  echo "quantize $t" >&2
  arica_quantize "$t" >/dev/null; llama_quantize "$t" >/dev/null  # untimed: digest cache, page cache
  alternate "arica_quantize $t" "llama_quantize $t"
  # speed ratio: llama.cpp's seconds over arica's
  rows+=("| quantize $t, fresh process | $(cell "$a_med" "$a_rng" '%.2f s') | $(cell "$b_med" "$b_rng" '%.2f s') \
| $(ratio "$b_med" "$a_med") |")
done
# A first run: no digest of the input remembered, so the provenance's SHA-256 is computed during the run.
echo "quantize q4_0, first run" >&2
alternate "arica_quantize q4_0 --no-digest-cache" "llama_quantize q4_0"
rows+=("| quantize q4_0, fresh process, input never hashed before | $(cell "$a_med" "$a_rng" '%.2f s') | \
$(cell "$b_med" "$b_rng" '%.2f s') | $(ratio "$b_med" "$a_med") |")
# convert and upscale against cp, ratio = cp's seconds / arica's (the issue's bar: 0.8): convert reads the input as cp
# of the input does; upscale writes more than the input, so cp writes as many bytes as it does.
files=()
in_bytes=$(stat -c %s "$b_hf/model.safetensors")
for c in "convert --dtype f16" "upscale --drop 2"; do
  echo "$c" >&2
  name=${c%% *}
  arica_$name >/dev/null  # untimed
  out_bytes=$(cat "$work/$name"/*.safetensors | wc -c)
  [ "$name" = convert ] && cp_n=$in_bytes || cp_n=$out_bytes
  alternate "arica_$name" "cp_bytes $cp_n"
  files+=("| $c: $((in_bytes / 1000000)) MB in, $((out_bytes / 1000000)) MB out | $(cell "$a_med" "$a_rng" '%.2f s') \
| cp of $((cp_n / 1000000)) MB: $(cell "$b_med" "$b_rng" '%.2f s') | $(ratio "$b_med" "$a_med") |")
  alternate "arica_$name" "cp_synced $cp_n"
  files+=("| $c | $(cell "$a_med" "$a_rng" '%.2f s') | cp + sync of $((cp_n / 1000000)) MB: $(cell "$b_med" "$b_rng" '%.2f s') \
| $(ratio "$b_med" "$a_med") |")
done
# The files the last rounds wrote (left in place by seconds()) are the ones both tools generate from.
[ -f "$work/arica-q8_0.arica" ] && [ -f "$work/llama-q4_0.gguf" ] || { echo "a quantize run failed: $work/quantize.log" >&2; exit 1; }
gen=()
for t in f32 q8_0 q4_0; do
  echo "generate $t" >&2
  case "$t" in
    f32) a="$b_hf"; b="$work/f32.gguf" ;;
    *) a="$work/arica-$t.arica"; b="$work/llama-$t.gguf" ;;
  esac
  runs=1 cli_rate "$a" >/dev/null  # untimed: exports to ONNX once, into the cache
  alternate "arica_rate $a" "llama_rate $b"
  gen+=("| generate $t, tokens/s | $(cell "$a_med" "$a_rng" '%.2f') | $(cell "$b_med" "$b_rng" '%.2f') \
| $(ratio "$a_med" "$b_med") |")
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

version=$("$peer/llama-bench" --version 2>&1 | head -n1 || true)  # "version: 0.5.0-dev (build 0, commit de3ff81)"
# A VM may show a generic model name: family and model number identify the generation (6/143 Sapphire Rapids, ...).
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //') (family $(grep -m1 '^cpu family' \
  /proc/cpuinfo | cut -d: -f2 | tr -d ' '), model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | tr -d ' '))"
avx512=$(grep -q avx512f /proc/cpuinfo && echo AVX-512 || echo 'no AVX-512')
amx=$(grep -q amx_tile /proc/cpuinfo && echo ', reports AMX' || true)
echo "machine: $cpu, $(nproc) cores, $avx512$amx, $(free -g | awk '/Mem:/ {print $2}') GiB; load (1/5/15 min) before $load_before, after $load_after"
echo "llama.cpp: ${version:-unknown version} from $peer; THREADS=$threads NEW_TOKENS=$new RUNS=$runs, median (min-max)"
echo
printf '| %s | arica | llama.cpp | arica / llama.cpp |\n| --- | ---: | ---: | ---: |\n' "measurement"
printf '%s\n' "${gen[@]}" "${rows[@]}"
echo
printf '| %s | arica | primitive | primitive seconds / arica seconds |\n| --- | ---: | ---: | ---: |\n' "file command"
printf '%s\n' "${files[@]}"
