#!/usr/bin/env python3
"""Where one decode step's time goes (issue 17), from an ONNX Runtime profile of `arica generate`.

Usage: ARICA_ORT_PROFILE=/tmp/p bin/arica generate MODEL ... --json > run.json   (ORT writes /tmp/p_<date>.json)
       bench/ort-profile.py /tmp/p_<date>.json [TOKENS_PER_SECOND]

The first model_run is the prompt (prefill); every later one is one decode step. Per decode step it prints ONNX
Runtime's kernel time per operator type, the time inside model_run outside the kernels (ORT's executor: allocation,
copies, fences), and, given arica's tokens_per_second of the same run, the rest of a step: the Java side (feeding the
KV cache, sampling, the JNI crossings). Profiling adds some overhead of its own, so the per-operator shares matter more
than the absolute figures.
"""
import collections
import json
import sys

events = json.load(open(sys.argv[1]))
runs = sorted((e["ts"], e["ts"] + e["dur"]) for e in events if e.get("cat") == "Session" and e["name"] == "model_run")
decode = runs[1:]  # runs[0] is the prompt
if not decode:
    sys.exit("no decode steps in the profile")
per_op = collections.Counter()
calls = collections.Counter()
for e in events:
    if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
        continue
    # the run this kernel belongs to (runs are sequential, so a linear scan is plenty for 32 steps)
    if any(s <= e["ts"] <= t for s, t in decode):
        op = e.get("args", {}).get("op_name", "?")
        per_op[op] += e["dur"]
        calls[op] += 1
n = len(decode)
run_us = sum(t - s for s, t in decode) / n
kernel_us = sum(per_op.values()) / n
print(f"decode steps: {n}; model_run {run_us / 1000:.2f} ms per step, kernels {kernel_us / 1000:.2f} ms")
print()
print("| per decode step | ms | share of model_run | nodes |")
print("| --- | ---: | ---: | ---: |")
for op, us in per_op.most_common():
    print(f"| {op} | {us / n / 1000:.3f} | {us / n / run_us:.1%} | {calls[op] // n} |")
print(f"| ORT outside the kernels | {(run_us - kernel_us) / 1000:.3f} | {(run_us - kernel_us) / run_us:.1%} | |")
if len(sys.argv) > 2:
    step_us = 1e6 / float(sys.argv[2])
    print(f"| Java side (1 / tokens_per_second - model_run) | {(step_us - run_us) / 1000:.3f} "
          f"| {(step_us - run_us) / step_us:.1%} of the step | |")
    print(f"| whole step (1 / tokens_per_second) | {step_us / 1000:.3f} | | |")
