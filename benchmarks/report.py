"""Turns compare.sh's JSON lines into the Markdown table; prints worst_ratio=<x> last."""
import json
import platform
import statistics
import subprocess
import sys
from collections import defaultdict

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
threads = sys.argv[2]
t = defaultdict(list)
extra = defaultdict(list)
for r in rows:
    key = (r["workload"], r["side"])
    t[key] += r.get("seconds", [])
    for k in ("decode_seconds_per_token", "gflops", "questions_per_s", "samples_per_s", "prefill_gflop"):
        if k in r:
            extra[key + (k,)] += r[k] if isinstance(r[k], list) else [r[k]]


def med(key):
    v = t.get(key)
    return statistics.median(v) if v else float("nan")


cpu = subprocess.run(["bash", "-c", "lscpu | grep 'Model name' | sed 's/.*: *//'"], capture_output=True, text=True).stdout.strip()
torch_version = next((r.get("torch") for r in rows if r.get("torch")), "?")
print(f"# Glimpse vs PyTorch, side by side\n")
print(f"Machine: {cpu}, {threads} threads, {platform.system()} {platform.release()}. PyTorch {torch_version} "
      f"(Debian python3-torch, eager, fp32, OpenBLAS); Glimpse on DJL 0.36 / libtorch 2.7.1 and ONNX Runtime 1.29. "
      f"Medians of all timed iterations over alternating runs; random weights built in-process.\n")
gf_g = statistics.median(extra[("matmul", "glimpse", "gflops")]) if extra[("matmul", "glimpse", "gflops")] else float("nan")
gf_t = statistics.median(extra[("matmul", "pytorch", "gflops")]) if extra[("matmul", "pytorch", "gflops")] else float("nan")
print(f"fp32 matmul 2048³: Glimpse (DJL) {gf_g:.0f} GFLOP/s, PyTorch {gf_t:.0f} GFLOP/s.\n")
print("| workload | Glimpse | PyTorch | Glimpse/PyTorch time |")
print("|---|---:|---:|---:|")
ratios = {}


def line(name, g, p, unit="s"):
    r = g / p
    print(f"| {name} | {g:.3f} {unit} | {p:.3f} {unit} | {r:.2f} |")
    return r


ratios["prefill"] = line("1. prefill, 700 tokens, Qwen2.5-0.5B shapes", med(("prefill", "glimpse")), med(("prefill", "pytorch")))
dg = statistics.median(extra[("prefill", "glimpse", "decode_seconds_per_token")])
dp = statistics.median(extra[("prefill", "pytorch", "decode_seconds_per_token")])
ratios["decode"] = line("1. decode, KV cache (per token)", dg, dp)
ratios["vision-onnx"] = line("2. CLIP ViT-B/16 224 px, batch 8 — Glimpse ONNX path", med(("vision-onnx", "glimpse")), med(("vision", "pytorch")))
ratios["vision-djl"] = line("2. CLIP ViT-B/16 224 px, batch 8 — Glimpse DJL path", med(("vision-djl", "glimpse")), med(("vision", "pytorch")))
ratios["train"] = line("3. adapter step, 576+128 tokens, batch 4, mlp2x_gelu", med(("train-step", "glimpse")), med(("train-step", "pytorch")))
for wl, label in (("train-step-lora", "LoRA r=8 on q_proj, v_proj"), ("train-step-prompt", "LLaMA-Adapter, 10 tokens x top 20 layers")):
    if t.get((wl, "glimpse")):
        over = med((wl, "glimpse")) / med(("train-step", "glimpse"))
        print(f"| 3. adapter step + {label} (Glimpse / Glimpse projector-only) | {med((wl, 'glimpse')):.3f} s | "
              f"{med(('train-step', 'glimpse')):.3f} s | {over:.2f} |")
pg = statistics.median(extra[("prefill", "glimpse", "prefill_gflop")]) if extra[("prefill", "glimpse", "prefill_gflop")] else float("nan")
print(f"\nDecode: Glimpse {1/dg:.1f} tokens/s, PyTorch {1/dp:.1f} tokens/s. Prefill: Glimpse "
      f"{700/med(('prefill','glimpse')):.0f} tokens/s; at the matmul floor ({gf_g:.0f} GFLOP/s) its {pg:.0f} GFLOP would take "
      f"{pg/gf_g:.2f} s, so Glimpse runs at {med(('prefill','glimpse'))/(pg/gf_g):.2f}x the floor.")
q = extra[("sqa-eval", "glimpse", "questions_per_s")]
if q:
    print(f"\n4. ScienceQA option-likelihood evaluation (tiny CLIP ONNX tower + stories260k, 200 questions): "
          f"{statistics.median(q):.1f} questions/s (Glimpse only).")
s = extra[("train-step", "glimpse", "samples_per_s")]
if s:
    print(f"\nAdapter training: Glimpse {statistics.median(s):.2f} samples/s, PyTorch "
          f"{statistics.median(extra[('train-step', 'pytorch', 'samples_per_s')]):.2f} samples/s on this CPU.")
worst = max(ratios[k] for k in ("prefill", "decode", "vision-onnx", "vision-djl", "train"))
print(f"\nworst_ratio={worst:.2f}")
