"""Adapter training-step throughput on a GPU with PyTorch, for docs/performance.md's one-hour plan.

Measures, per model shape, samples/s of one projector step (576 image + 128 text tokens, frozen LLM, backward into the
projector only) in three precisions: bf16 with SDPA (the PyTorch anchor), and fp32 with explicit attention — what
Glimpse's DJL/libtorch path runs on a GPU today (DJL cannot hold bf16 and its casts cut the autograd graph) — with
TF32 tensor cores off and on. Prints one JSON line per measurement.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SHAPES = {
    "qwen2.5-0.5b": dict(h=896, ff=4864, layers=24, heads=14, kv=2, hd=64, vocab=151936, batch=16),
    "qwen2.5-1.5b": dict(h=1536, ff=8960, layers=28, heads=12, kv=2, hd=128, vocab=151936, batch=16),
    "llama-7b": dict(h=4096, ff=11008, layers=32, heads=32, kv=32, hd=128, vocab=32000, batch=8),
}


class Block(nn.Module):
    def __init__(self, s):
        super().__init__()
        h, heads, kv, hd, ff = s["h"], s["heads"], s["kv"], s["hd"], s["ff"]
        self.s = s
        self.q, self.k, self.v = nn.Linear(h, heads * hd), nn.Linear(h, kv * hd), nn.Linear(h, kv * hd)
        self.o = nn.Linear(heads * hd, h, bias=False)
        self.gate, self.up, self.down = nn.Linear(h, ff, bias=False), nn.Linear(h, ff, bias=False), nn.Linear(ff, h, bias=False)
        self.n1, self.n2 = nn.Parameter(torch.ones(h)), nn.Parameter(torch.ones(h))

    def forward(self, x, sdpa):
        s = self.s
        b, t, _ = x.shape
        h = self.n1 * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
        q = self.q(h).view(b, t, s["heads"], s["hd"]).transpose(1, 2)
        k = self.k(h).view(b, t, s["kv"], s["hd"]).transpose(1, 2).repeat_interleave(s["heads"] // s["kv"], 1)
        v = self.v(h).view(b, t, s["kv"], s["hd"]).transpose(1, 2).repeat_interleave(s["heads"] // s["kv"], 1)
        if sdpa:
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            m = torch.full((t, t), float("-inf"), device=x.device, dtype=x.dtype).triu(1)
            a = ((q @ k.transpose(-1, -2)) / math.sqrt(s["hd"]) + m).softmax(-1) @ v
        x = x + self.o(a.transpose(1, 2).reshape(b, t, -1))
        h = self.n2 * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))


def measure(name, dtype, sdpa, tf32, steps=6):
    s = SHAPES[name]
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    dev = "cuda"
    blocks = nn.ModuleList(Block(s) for _ in range(s["layers"])).to(dev, dtype)
    embed = nn.Embedding(s["vocab"], s["h"]).to(dev, dtype)
    for p in list(blocks.parameters()) + list(embed.parameters()):
        p.requires_grad_(False)
    proj = nn.Sequential(nn.Linear(1024, s["h"]), nn.GELU(), nn.Linear(s["h"], s["h"])).to(dev, dtype)
    opt = torch.optim.AdamW(proj.parameters(), lr=1e-3)
    b = s["batch"]
    feats = torch.randn(b, 576, 1024, device=dev, dtype=dtype)
    ids = torch.randint(0, s["vocab"], (b, 128), device=dev)
    times = []
    for i in range(steps + 2):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        x = torch.cat((proj(feats), embed(ids)), 1)
        for blk in blocks:
            x = blk(x, sdpa)
        logits = x[:, -33:-1].float() @ embed.weight.float().t()
        loss = F.cross_entropy(logits.reshape(-1, s["vocab"]), ids[:, -32:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    t = sorted(times)[len(times) // 2]
    out = dict(model=name, dtype=str(dtype).replace("torch.", ""), attention="sdpa" if sdpa else "explicit",
               tf32=tf32, batch=b, step_s=t, samples_per_s=b / t,
               max_mem_gb=torch.cuda.max_memory_allocated() / 2**30, gpu=torch.cuda.get_device_name(0),
               torch=torch.__version__)
    print(json.dumps(out), flush=True)
    del blocks, embed, proj, opt
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()


if __name__ == "__main__":
    for name in sys.argv[1:] or list(SHAPES):
        measure(name, torch.bfloat16, True, False)
        measure(name, torch.float32, False, False)
        measure(name, torch.float32, False, True)
