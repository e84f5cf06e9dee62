"""Turns run.sh's results.jsonl into the Markdown tables of benchmarks/results and docs/gpu.md (stdout), and, where
matplotlib is installed, a chart of samples/s and peak memory per shape, Glimpse beside PyTorch (PNG_PATH).
Usage: python3 report_gpu.py results.jsonl [PNG_PATH]
"""
import json
import os
import sys

SQA_QUESTIONS = 12726  # ScienceQA's training split
EPOCHS = 3

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
by = {r["label"]: r for r in rows}


def gib(r):
    p = r.get("nvidia_smi_peak_mib")
    return f"{p / 1024:.1f}" if p else "—"


def f(x, d=1):
    return "—" if x is None else f"{x:.{d}f}"


out = []
checks = [r for r in rows if r.get("mode") == "check"]
if checks:
    ref = os.path.join(os.path.dirname(__file__), "../../samples/demo-kit/stories260k/reference.json")
    want = json.load(open(ref))["bos_greedy"]["ids"] if os.path.isfile(ref) else None
    out += ["## Mixed precision against fp32, on the GPU (adapter-step fixture: projector + LoRA + adaption prompt)", "",
            "| run | attention | dtype | loss rel. (u) | worst gradient rel. (u) | within bounds (2u / 16u; vs PyTorch 1e-5 / 2e-5) |",
            "|---|---|---|---:|---:|---|"]
    for c in checks:
        for s in c["steps"]:
            lu = f" ({s['loss_u']:.2f})" if "loss_u" in s else ""
            gu = f" ({s['grad_u']:.1f})" if "grad_u" in s else ""
            out.append(f"| {c['label']} | {'fused' if c['fused_attention'] else 'explicit'} | {s['dtype']} | "
                       f"{s['loss_rel']:.2g}{lu} | {s['grad_rel']:.2g}{gu} | {'yes' if s['within_bounds'] else 'NO'} |")
        ids = c.get("stories260k_greedy_ids")
        if want is not None and ids is not None:
            same = ids == want[-len(ids):] or ids == want
            out.append(f"| {c['label']} | fp32 greedy, stories260k, 200 tokens | | | | "
                       f"{'= transformers' if same else 'DIFFERS from transformers'} |")
    out.append("")

shapes = []
for r in rows:
    if r.get("mode") == "train" and r.get("model") not in shapes:
        shapes.append(r["model"])
if shapes:
    out += ["## Adapter training step (576 image + 128 text tokens, frozen LLM, mlp2x_gelu projector), one run", "",
            "| shape | PyTorch bf16 + SDPA samples/s | Glimpse samples/s | × PyTorch | peak GPU GiB PyTorch / Glimpse"
            " (nvidia-smi) | × PyTorch | Glimpse dtype, attention |", "|---|---:|---:|---:|---:|---:|---|"]
    for s in shapes:
        g = next((r for r in rows if r.get("mode") == "train" and r["model"] == s and r["label"].startswith("glimpse-")
                  and "explicit" not in r["label"] and "fp32" not in r["label"] and "ckpt" not in r["label"]), None)
        g = g or next((r for r in rows if r.get("mode") == "train" and r["model"] == s
                       and r["label"].startswith("glimpse-") and "ckpt" in r["label"]), None)
        t = by.get(f"torch-bf16-sdpa-{s}")
        if not g:
            continue
        ratio = g["samples_per_s"] / t["samples_per_s"] if t else None
        mem = (g["nvidia_smi_peak_mib"] / t["nvidia_smi_peak_mib"]) if t and t.get("nvidia_smi_peak_mib") and \
            g.get("nvidia_smi_peak_mib") else None
        out.append(f"| {s} (batch {g['batch']}) | {f(t['samples_per_s']) if t else '—'} | {f(g['samples_per_s'])} | "
                   f"{f(ratio, 2)} | {gib(t) if t else '—'} / {gib(g)} | {f(mem, 2)} | {g['dtype']}, "
                   f"{'fused SDPA' if g['fused_attention'] else 'explicit'} |")
    out.append("")
    seven = next((r for r in rows if r.get("mode") == "train" and r["model"] == "llama-7b"
                  and r["label"].startswith("glimpse-")), None)
    if seven:
        minutes = SQA_QUESTIONS * EPOCHS / seven["samples_per_s"] / 60
        out += [f"ScienceQA at LLaMA-7B shape: {SQA_QUESTIONS:,} training questions × {EPOCHS} epochs at "
                f"{seven['tokens_per_sample']} tokens (LLaVA's 576 image tokens + prompt) / {seven['samples_per_s']:.1f}"
                f" samples/s = **{minutes:.0f} minutes** of steps (target ≤ 60), peak {gib(seven)} GiB.", ""]

phased = [r for r in rows if r.get("mode") in ("train", "torch-train") and isinstance(r.get("phases"), dict)
          and "forward_nograd_s" in r["phases"]]
if phased:
    out += ["## Where a step's time goes (medians, seconds)", "",
            "| run | step | forward alone (no autograd) | the rest: autograd forward, backward, gradients | optimizer |",
            "|---|---:|---:|---:|---:|"]
    for r in phased:
        p = r["phases"]
        step = r["median_step_s"]
        out.append(f"| {r['label']} | {step:.3f} | {p['forward_nograd_s']:.3f} | "
                   f"{step - p['forward_nograd_s'] - p['optimizer_s']:.3f} | {p['optimizer_s']:.4f} |")
    out.append("")

extra = [r for r in rows if r.get("mode") in ("train", "torch-train") and r.get("model") == "qwen2.5-0.5b"]
if extra:
    out += ["## All training rows at Qwen2.5-0.5B shape", "",
            "| run | dtype | attention | TF32 | samples/s | peak GiB (nvidia-smi) |", "|---|---|---|---|---:|---:|"]
    for r in extra:
        att = r.get("attention") or ("fused SDPA" if r.get("fused_attention") else "explicit")
        att += ", checkpointed" if r.get("activation_checkpointing") else ""
        out.append(f"| {r['label']} | {r['dtype']} | {att} | {r.get('tf32')} | {f(r['samples_per_s'])} | {gib(r)} |")
    out.append("")

gens = [r for r in rows if r.get("mode") in ("gen", "hf-gen")]
if gens:
    out += ["## Inference, batch 1, 512-token prompt, 128 greedy tokens", "",
            "| shape | engine | dtype | prefill tok/s | decode tok/s | peak GiB |", "|---|---|---|---:|---:|---:|"]
    for r in gens:
        eng = "Glimpse (DJL)" if r["mode"] == "gen" else "transformers generate"
        out.append(f"| {r['model']} | {eng} | {r['dtype']} | {f(r['prefill_tok_s'], 0)} | {f(r['decode_tok_s'])} | "
                   f"{gib(r)} |")
    out.append("")

pairs = []
for s in shapes:
    g = next((r for r in rows if r.get("mode") == "train" and r["model"] == s and r["label"].startswith("glimpse-")
              and "explicit" not in r["label"] and "fp32" not in r["label"]), None)
    t = by.get(f"torch-bf16-sdpa-{s}")
    if g and t:
        pairs.append((s, g, t))
if pairs and len(sys.argv) > 2:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
        xs = range(len(pairs))
        for ax, key, title in ((a, "samples_per_s", "adapter step, samples/s"),
                               (b, "nvidia_smi_peak_mib", "peak GPU memory, MiB (nvidia-smi)")):
            ax.bar([x - 0.2 for x in xs], [p[2].get(key) or 0 for p in pairs], 0.4, label="PyTorch bf16 + SDPA")
            ax.bar([x + 0.2 for x in xs], [p[1].get(key) or 0 for p in pairs], 0.4, label="Glimpse")
            ax.set_xticks(list(xs), [p[0] for p in pairs])
            ax.set_title(title)
        a.legend()
        fig.tight_layout()
        fig.savefig(sys.argv[2], dpi=110)
    except ImportError:
        print("(no matplotlib here: no chart)", file=sys.stderr)

env = next((r for r in rows if r.get("gpu")), None)
if env:
    out.append(f"GPU: {env['gpu']}, torch {env['torch']}.")
print("\n".join(out))
