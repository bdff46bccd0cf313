#!/usr/bin/env bash
# Disk full on a real file system (issue 19), needs root: every writing command run on the bundled stories260K
# into a size-limited tmpfs (default 200 kB, smaller than each output) holding a previous output. Prints, per
# command: exit code, the message, what is left in the tmpfs besides the previous output (must be nothing) and
# whether the previous output is intact. The CI tests inject the same failure without root (DiskFullTest).
# Usage: sudo bench/disk-full-tmpfs.sh [SCRATCH_DIR] [SIZE]
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
arica="$root/bin/arica"
scratch="${1:-/tmp/arica-disk-full}"
size="${2:-200k}"
mkdir -p "$scratch/in" "$scratch/full"
bin="$root/testdata/models/stories260K/stories260K.bin"
[ -d "$scratch/in/hf" ] || "$arica" convert "$bin" -o "$scratch/in/hf" >/dev/null
[ -d "$scratch/in/onnx" ] || "$arica" export-onnx "$scratch/in/hf" -o "$scratch/in/onnx" >/dev/null
mount -t tmpfs -o size="$size" tmpfs "$scratch/full" || { echo "cannot mount a tmpfs (root needed)" >&2; exit 2; }
trap 'umount "$scratch/full"' EXIT
printf '| command (into a %s tmpfs) | exit | message | left beside the previous output | previous output |\n| --- | --- | --- | --- | --- |\n' "$size"
try() {
  local label=$1 dest=$2 rc msg left intact
  shift 2
  rm -rf "${scratch:?}/full/"* "$scratch/full/".[!.]* 2>/dev/null
  if [[ "$dest" == *.* ]]; then echo previous > "$dest"; else mkdir -p "$dest"; echo previous > "$dest/previous.txt"; fi
  "$@" >/dev/null 2>"$scratch/err"
  rc=$?
  msg=$(tr -d "\000" < "$scratch/err" | tail -n1)
  left=$(cd "$scratch/full" && find . -mindepth 1 | grep -v -e "^./$(basename "$dest")$" -e "^./$(basename "$dest")/previous.txt$" | tr '\n' ' ')
  if [[ "$dest" == *.* ]]; then intact=$([ "$(cat "$dest")" = previous ] && echo intact || echo CHANGED);
  else intact=$([ "$(ls "$dest")" = previous.txt ] && echo intact || echo CHANGED); fi
  printf '| %s | %s | `%s` | %s | %s |\n' "$label" "$rc" "${msg//$scratch/SCRATCH}" "${left:-nothing}" "$intact"
}
f="$scratch/full"
try '`convert --dtype f32` (one file)' "$f/m.safetensors" "$arica" convert "$scratch/in/hf" -o "$f/m.safetensors"
try '`convert --max-shard-size 300kB --force` (directory)' "$f/hf" "$arica" convert "$scratch/in/hf" -o "$f/hf" --max-shard-size 300kB --force
try '`quantize --scheme q8_0`' "$f/m.arica" "$arica" quantize "$scratch/in/hf" -o "$f/m.arica" --scheme q8_0 --no-digest-cache
try '`quantize` of an ONNX model, external data' "$f/q.onnx" "$arica" quantize "$scratch/in/onnx/model.onnx" -o "$f/q.onnx" --scheme int8 --external-data --quantize-embeddings
try '`export-onnx --force`' "$f/onnx" "$arica" export-onnx "$scratch/in/hf" -o "$f/onnx" --force
try '`export-gguf --type f32`' "$f/m.gguf" "$arica" export-gguf "$scratch/in/hf" -o "$f/m.gguf" --type f32
try '`upscale --drop 1 --force`' "$f/up" "$arica" upscale "$scratch/in/hf" -o "$f/up" --drop 1 --force
try '`generate` (export cache)' "$f/cache" "$arica" generate "$bin" --cache-dir "$f/cache" --prompt "Once upon a time" --max-new-tokens 4 --device cpu
