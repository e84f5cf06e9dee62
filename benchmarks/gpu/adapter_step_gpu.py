"""The PyTorch reference for Glimpse's adapter training step, on the same checkpoints (make_checkpoints.py).

What a PyTorch user runs for LLaVA's projector stage: the frozen LLM from transformers (attn_implementation="sdpa"),
an mlp2x_gelu projector 1024 -> H kept in fp32 and trained with AdamW, the step under torch.autocast in the compute
dtype, logits only at the answer positions and the loss in fp32 — the same work as GpuBench's train mode (576 image +
128 text tokens per sample, the last 32 trained). Prints one JSON line per run with the median step time and the peak
memory (torch's allocated and reserved; run.sh adds nvidia-smi's, the same meter it uses for Glimpse).
Usage: python3 adapter_step_gpu.py MODEL_DIR DTYPE(bf16|fp16|fp32) ATTN(sdpa|eager) TF32(0|1) BATCH STEPS [IMG TEXT ANSWER]
"""
import json
import sys
import time

import torch
import torch.nn.functional as F
from transformers import AutoModelForCausalLM

TYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def main(model_dir, dtype, attn, tf32, b, steps, img=576, text=128, answer=32):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    dt = TYPES[dtype]
    dev = "cuda"
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dt, attn_implementation=attn).to(dev)
    load = time.perf_counter() - t0
    model.requires_grad_(False)
    h = model.config.hidden_size
    vocab = model.config.vocab_size
    proj = torch.nn.Sequential(torch.nn.Linear(1024, h), torch.nn.GELU(), torch.nn.Linear(h, h)).to(dev)
    opt = torch.optim.AdamW(proj.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == "fp16")
    g = torch.Generator(device=dev).manual_seed(5)
    feats = torch.rand(b, img, 1024, device=dev, generator=g) * 2 - 1
    ids = torch.randint(0, vocab, (b, text), device=dev, generator=g)
    embed = model.get_input_embeddings()
    times = []
    loss = None
    for i in range(steps + 1):
        torch.cuda.synchronize()
        s0 = time.perf_counter()
        with torch.autocast("cuda", dtype=dt, enabled=dtype != "fp32"):
            x = torch.cat((proj(feats).to(dt), embed(ids)), 1)
            hidden = model.model(inputs_embeds=x).last_hidden_state
            picked = hidden[:, -answer - 1:-1]
            logits = model.lm_head(picked).float()
            loss = F.cross_entropy(logits.reshape(-1, vocab), ids[:, -answer:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        torch.cuda.synchronize()
        if i > 0:
            times.append(time.perf_counter() - s0)
    med = sorted(times)[len(times) // 2]
    phases = breakdown(model, proj, opt, scaler, feats, ids, embed, dt, dtype, answer, vocab)
    print(json.dumps(dict(mode="torch-train", model=model_dir.rstrip("/").split("/")[-1], dtype=dtype, attention=attn,
                          tf32=bool(tf32), batch=b, tokens_per_sample=img + text, load_s=round(load, 2),
                          median_step_s=med, samples_per_s=b / med, final_loss=float(loss),
                          phases=phases, max_allocated_gib=torch.cuda.max_memory_allocated() / 2**30,
                          max_reserved_gib=torch.cuda.max_memory_reserved() / 2**30,
                          gpu=torch.cuda.get_device_name(0), torch=torch.__version__)), flush=True)


def breakdown(model, proj, opt, scaler, feats, ids, embed, dt, dtype, answer, vocab):
    """Where a step's time goes, as GpuBench reports it: the forward alone (no autograd) and the optimizer step, each
    the median of 3, synchronized. Never fails the run: an error is reported in its place."""
    try:
        def forward():
            with torch.autocast("cuda", dtype=dt, enabled=dtype != "fp32"):
                x = torch.cat((proj(feats).to(dt), embed(ids)), 1)
                hidden = model.model(inputs_embeds=x).last_hidden_state
                logits = model.lm_head(hidden[:, -answer - 1:-1]).float()
                return F.cross_entropy(logits.reshape(-1, vocab), ids[:, -answer:].reshape(-1))

        def timed(fn):
            out = []
            for _ in range(3):
                torch.cuda.synchronize()
                t0 = time.perf_counter()
                fn()
                torch.cuda.synchronize()
                out.append(time.perf_counter() - t0)
            return sorted(out)[1]

        with torch.no_grad():
            fwd = timed(forward)
        scaler.scale(forward()).backward()  # gradients for the optimizer steps below
        return dict(forward_nograd_s=fwd, optimizer_s=timed(lambda: opt.step()))
    except Exception as e:  # noqa: BLE001 -- the main figures matter more than this breakdown
        return dict(error=str(e)[:200])


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], a[2], a[3] == "1", int(a[4]), int(a[5]), *(int(x) for x in a[6:9]))
