#!/usr/bin/env bash
# GGUF export checked with llama.cpp's own tools (issue 16; never run in CI). arica exports stories260K as GGUF
# (f32, q8_0, q4_0), then:
#  - llama-tokenize on arica's file must give the reference prompt ids (the llama2.c tokenizer's), and so must
#    llama.cpp's q8_0 file read by arica and written again;
#  - llama-simple (greedy) on arica's f32 file must print exactly the pieces of the reference C program's greedy ids,
#    for as many tokens as the reference generated, for every prompt of reference/greedy.jsonl;
#  - llama-simple on arica's q8_0 file must print what it prints on llama.cpp's q8_0 file (bundled);
#  - llama-quantize of arica's f32 file to q8_0 and q4_0 must give, tensor by tensor, arica's own q8_0 and q4_0 files.
# Usage: LLAMA_CPP_BIN=DIR bench/gguf-llama-cpp.sh [SCRATCH_DIR]   (DIR holds llama-simple, llama-tokenize,
#        llama-quantize; default /work/llama-peer/llama.cpp/build/bin). LLAMA_SIMPLE=FILE runs another llama-simple
#        (a build without GGML's AMX kernels where they crash, as in a VM that reports AMX).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
scratch="${1:-/tmp/arica-bench/gguf-llama-cpp}"
bin="${LLAMA_CPP_BIN:-/work/llama-peer/llama.cpp/build/bin}"
simple="${LLAMA_SIMPLE:-$bin/llama-simple}"
arica="$root/bin/arica"
model="$root/testdata/models/stories260K"
mkdir -p "$scratch"
[ -f "$root/cli/target/arica-cli.jar" ] || "$root/bin/mvn" -q -B -ntp package -DskipTests
for t in f32 q8_0 q4_0; do
  "$arica" export-gguf "$model/stories260K.bin" --type "$t" -o "$scratch/arica-$t.gguf" >&2
done
# llama.cpp's q8_0 file read by arica and written again (its tokenizer through the rebuilt tokenizer.json).
"$arica" export-gguf "$model/gguf/stories260K-q8_0.gguf" -o "$scratch/arica-from-gguf.gguf" >&2
fail=0
n=0
while IFS= read -r line; do
  n=$((n + 1))
  prompt=$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["prompt"], end="")')
  want_ids=$(printf '%s' "$line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["prompt_ids"])')
  count=$(printf '%s' "$line" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(len(j["ids"]) - len(j["prompt_ids"]))')
  if [ -n "$prompt" ]; then
    got_ids=$("$bin/llama-tokenize" -m "$scratch/arica-f32.gguf" -p "$prompt" --ids --log-disable 2>/dev/null)
    if [ "$got_ids" = "$want_ids" ]; then r=same; else r="DIFFERENT: $got_ids"; fail=1; fi
    printf '| %d | llama-tokenize, arica f32 | "%s" | %s | %s |\n' "$n" "$prompt" "$want_ids" "$r"
    got_ids=$("$bin/llama-tokenize" -m "$scratch/arica-from-gguf.gguf" -p "$prompt" --ids --log-disable 2>/dev/null)
    if [ "$got_ids" = "$want_ids" ]; then r=same; else r="DIFFERENT: $got_ids"; fail=1; fi
    printf '| %d | llama-tokenize, arica from llama.cpp q8_0 | "%s" | %s | %s |\n' "$n" "$prompt" "$want_ids" "$r"
  fi
  "$simple" -m "$scratch/arica-f32.gguf" -n "$count" "$prompt" >"$scratch/simple-$n-f32.txt" 2>/dev/null
  q8=""
  "$simple" -m "$scratch/arica-q8_0.gguf" -n "$count" "$prompt" >"$scratch/simple-$n-arica-q8.txt" 2>/dev/null \
    || q8="llama-simple exited $? on arica's file"
  "$simple" -m "$model/gguf/stories260K-q8_0.gguf" -n "$count" "$prompt" >"$scratch/simple-$n-llama-q8.txt" 2>/dev/null \
    || q8="$q8; llama-simple exited $? on llama.cpp's file"
  # The pieces of the reference ids as llama-simple prints them (U+2581 as a space, <0xNN> as its byte), then "\n".
  LINE="$line" python3 - "$scratch/arica-f32.gguf" "$scratch/expected-$n.txt" <<'PY'
import json, os, re, struct, sys
ids = json.loads(os.environ["LINE"])["ids"]
b = open(sys.argv[1], "rb").read()
p = 24
def u(fmt):
    global p
    v = struct.unpack_from("<" + fmt, b, p); p += struct.calcsize("<" + fmt); return v[0]
def s():
    global p
    n = u("Q"); v = b[p:p + n]; p += n; return v
sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
def value(t):
    if t == 8: return s()
    if t == 9:
        e = u("I"); return [value(e) for _ in range(u("Q"))]
    global p
    p += sizes[t]
for _ in range(struct.unpack_from("<Q", b, 16)[0]):
    k = s().decode(); v = value(u("I"))
    if k == "tokenizer.ggml.tokens": tokens = v
def piece(t):
    m = re.fullmatch(rb"<0x([0-9A-F]{2})>", t)
    return bytes([int(m.group(1), 16)]) if m else t.replace("\u2581".encode(), b" ")
open(sys.argv[2], "wb").write(b"".join(piece(tokens[i]) for i in ids) + b"\n")
PY
  if cmp -s "$scratch/expected-$n.txt" "$scratch/simple-$n-f32.txt"; then r=same; else r=DIFFERENT; fail=1; fi
  printf '| %d | llama-simple -n %d, arica f32 vs reference ids | "%s" | %s bytes | %s |\n' "$n" "$count" "$prompt" \
    "$(stat -c %s "$scratch/expected-$n.txt")" "$r"
  if [ -n "$q8" ]; then r="not compared: ${q8#; }"; fail=1
  elif cmp -s "$scratch/simple-$n-arica-q8.txt" "$scratch/simple-$n-llama-q8.txt"; then r=same; else r=DIFFERENT; fail=1; fi
  printf '| %d | llama-simple -n %d, arica q8_0 vs llama.cpp q8_0 | "%s" | %s bytes | %s |\n' "$n" "$count" "$prompt" \
    "$(stat -c %s "$scratch/simple-$n-arica-q8.txt")" "$r"
done <"$model/reference/greedy.jsonl"
# llama.cpp's quantizer on arica's f32 file, tensor by tensor against arica's own quantized files.
for t in q8_0 q4_0; do
  "$bin/llama-quantize" "$scratch/arica-f32.gguf" "$scratch/llama-$t.gguf" "$t" >/dev/null 2>&1
  python3 - "$scratch/arica-$t.gguf" "$scratch/llama-$t.gguf" "$t" <<'PY' || fail=1
import struct, sys
def tensors(path):
    b = open(path, "rb").read(); p = [24]
    def u(f):
        v = struct.unpack_from("<" + f, b, p[0]); p[0] += struct.calcsize("<" + f); return v[0]
    def s():
        n = u("Q"); v = b[p[0]:p[0] + n]; p[0] += n; return v
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    def value(t):
        if t == 8: s(); return
        if t == 9:
            e = u("I")
            for _ in range(u("Q")): value(e)
            return
        p[0] += sizes[t]
    nt, nkv = struct.unpack_from("<QQ", b, 8)
    for _ in range(nkv):
        s(); value(u("I"))
    infos = []
    for _ in range(nt):
        name = s().decode(); dims = [u("Q") for _ in range(u("I"))]; infos.append((name, dims, u("I"), u("Q")))
    start = (p[0] + 31) // 32 * 32
    per = {0: (1, 4), 1: (1, 2), 2: (32, 18), 8: (32, 34)}
    out = {}
    for name, dims, t, off in infos:
        ne = 1
        for d in dims: ne *= d
        out[name] = (t, b[start + off:start + off + ne // per[t][0] * per[t][1]])
    return out
a, l = tensors(sys.argv[1]), tensors(sys.argv[2])
same = [n for n in a if n in l and a[n] == l[n]]
differ = [n for n in a if n not in same]
print("| llama-quantize %s of arica's f32 vs arica's %s | %d tensors | %d identical (type and bytes) | %s |"
      % (sys.argv[3], sys.argv[3], len(a), len(same), "same" if not differ else "DIFFERENT: " + ", ".join(differ)))
sys.exit(1 if differ else 0)
PY
done
exit $fail
