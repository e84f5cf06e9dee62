"""PyTorch side of benchmarks/compare.sh: the same workloads as Glimpse's Bench, eager fp32, random weights built
in-process. One JSON line of results on stdout.

usage: torch_bench.py WORKLOAD ITERATIONS WORKDIR
workloads: matmul, prefill (includes decode), vision, train-step, export-clip (writes the ONNX tower Glimpse runs)
"""
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

H, FF, LAYERS, HEADS, KV, HD, VOCAB = 896, 4864, 24, 14, 2, 64, 151936


def rms_norm(x, w, eps=1e-6):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Qwen2(nn.Module):
    """Qwen2.5-0.5B shapes, written out eagerly (explicit attention, as transformers' eager path)."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, H)
        self.layers = nn.ModuleList()
        for _ in range(LAYERS):
            l = nn.Module()
            l.q = nn.Linear(H, HEADS * HD)
            l.k = nn.Linear(H, KV * HD)
            l.v = nn.Linear(H, KV * HD)
            l.o = nn.Linear(HEADS * HD, H, bias=False)
            l.gate = nn.Linear(H, FF, bias=False)
            l.up = nn.Linear(H, FF, bias=False)
            l.down = nn.Linear(FF, H, bias=False)
            l.ln1 = nn.Parameter(torch.ones(H))
            l.ln2 = nn.Parameter(torch.ones(H))
            self.layers.append(l)
        self.norm = nn.Parameter(torch.ones(H))
        inv = 1.0 / (1e6 ** (torch.arange(0, HD, 2).float() / HD))
        self.register_buffer("inv_freq", inv)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)

    def forward(self, x, pos, cache=None, last_only=True):
        b, t, _ = x.shape
        freqs = pos[:, :, None].float() * self.inv_freq
        emb = torch.cat((freqs, freqs), dim=-1)[:, None]
        cos, sin = emb.cos(), emb.sin()
        past = 0 if cache is None or cache[0] is None else cache[0][0].shape[2]
        s = past + t
        mask = torch.full((t, s), float("-inf")).triu(past + 1)
        for i, l in enumerate(self.layers):
            h = rms_norm(x, l.ln1)
            q = l.q(h).view(b, t, HEADS, HD).transpose(1, 2)
            k = l.k(h).view(b, t, KV, HD).transpose(1, 2)
            v = l.v(h).view(b, t, KV, HD).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            if cache is not None:
                if cache[i] is not None:
                    k = torch.cat((cache[i][0], k), 2)
                    v = torch.cat((cache[i][1], v), 2)
                cache[i] = (k, v)
            k = k.repeat_interleave(HEADS // KV, 1)
            v = v.repeat_interleave(HEADS // KV, 1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(HD) + mask
            att = att.softmax(-1)
            x = x + l.o((att @ v).transpose(1, 2).reshape(b, t, HEADS * HD))
            h = rms_norm(x, l.ln2)
            x = x + l.down(F.silu(l.gate(h)) * l.up(h))
        x = rms_norm(x, self.norm)
        if last_only:
            x = x[:, -1:]
        return x @ self.embed.weight.t(), x


def prefill(iters):
    m = Qwen2().eval()
    for p in m.parameters():
        p.requires_grad_(False)
    ids = torch.randint(0, VOCAB, (1, 700))
    pre, dec = [], []
    with torch.no_grad():
        for it in range(iters + 1):
            cache = [None] * LAYERS
            t0 = time.perf_counter()
            logits, _ = m(m.embed(ids), torch.arange(700)[None], cache)
            nxt = logits.argmax(-1)
            p = time.perf_counter() - t0
            t1 = time.perf_counter()
            for k in range(16):
                logits, _ = m(m.embed(nxt), torch.tensor([[700 + k]]), cache)
                nxt = logits.argmax(-1)
            d = time.perf_counter() - t1
            if it > 0:
                pre.append(p)
                dec.append(d / 16)
    return {"seconds": pre, "decode_seconds_per_token": dec, "prefill_tokens_per_s": 700 / statistics.median(pre),
            "decode_tokens_per_s": 1 / statistics.median(dec)}


class ClipB16(nn.Module):
    """CLIP ViT-B/16 vision tower shapes (quick_gelu), eager attention."""

    def __init__(self):
        super().__init__()
        d = 768
        self.patch = nn.Conv2d(3, d, 16, 16, bias=False)
        self.cls = nn.Parameter(torch.randn(d) * 0.02)
        self.pos = nn.Parameter(torch.randn(197, d) * 0.02)
        self.pre = nn.LayerNorm(d)
        self.layers = nn.ModuleList()
        for _ in range(12):
            l = nn.Module()
            l.ln1, l.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            l.q, l.k, l.v, l.o = (nn.Linear(d, d) for _ in range(4))
            l.fc1, l.fc2 = nn.Linear(d, 3072), nn.Linear(3072, d)
            self.layers.append(l)

    def forward(self, px):
        b = px.shape[0]
        x = self.patch(px).flatten(2).transpose(1, 2)
        x = torch.cat((self.cls.expand(b, 1, -1), x), 1) + self.pos
        x = self.pre(x)
        for l in self.layers:
            h = l.ln1(x)
            q = l.q(h).view(b, -1, 12, 64).transpose(1, 2)
            k = l.k(h).view(b, -1, 12, 64).transpose(1, 2)
            v = l.v(h).view(b, -1, 12, 64).transpose(1, 2)
            a = ((q @ k.transpose(-1, -2)) / 8.0).softmax(-1)
            x = x + l.o((a @ v).transpose(1, 2).reshape(b, -1, 768))
            h = l.fc1(l.ln2(x))
            x = x + l.fc2(h * torch.sigmoid(1.702 * h))
        return x


def vision(iters):
    m = ClipB16().eval()
    px = torch.rand(8, 3, 224, 224)
    t = []
    with torch.no_grad():
        m(px)
        for _ in range(iters):
            t0 = time.perf_counter()
            m(px)
            t.append(time.perf_counter() - t0)
    return {"seconds": t}


def export_clip(workdir):
    out = os.path.join(workdir, "clip-b16-onnx")
    os.makedirs(out, exist_ok=True)
    m = ClipB16().eval()
    torch.onnx.export(m, torch.rand(1, 3, 224, 224), os.path.join(out, "vision_model.onnx"),
                      input_names=["pixel_values"], output_names=["last_hidden_state"],
                      dynamic_axes={"pixel_values": {0: "batch"}, "last_hidden_state": {0: "batch"}}, opset_version=17)
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump({"image_processor_type": "CLIPImageProcessor", "do_resize": True, "size": {"shortest_edge": 224},
                   "resample": 3, "do_center_crop": True, "crop_size": {"height": 224, "width": 224},
                   "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
                   "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711]}, f)
    return {"exported": out}


def train_step(iters):
    """Adapter step: projector -> splice -> frozen LLM -> loss on 32 answer tokens -> backward into the projector."""
    lm = Qwen2()
    for p in lm.parameters():
        p.requires_grad_(False)
    proj = nn.Sequential(nn.Linear(1024, H), nn.GELU(), nn.Linear(H, H))
    opt = torch.optim.AdamW(proj.parameters(), lr=1e-3, weight_decay=0.0)
    b, img, text, answer = 4, 576, 128, 32
    feats = torch.rand(b, img, 1024) * 2 - 1
    ids = torch.randint(0, VOCAB, (b, text))
    pos = torch.arange(img + text)[None].expand(b, -1)
    t = []
    for it in range(iters + 1):
        t0 = time.perf_counter()
        x = torch.cat((proj(feats), lm.embed(ids)), 1)
        _, hidden = lm(x, pos, None, last_only=False)
        # logits only where a target follows, as Glimpse's trainer does
        h = hidden[:, img + text - answer - 1:-1]
        logits = h @ lm.embed.weight.t()
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), ids[:, text - answer:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        if it > 0:
            t.append(time.perf_counter() - t0)
    return {"seconds": t, "samples_per_s": b / statistics.median(t)}


def matmul(iters):
    n = 2048
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    t = []
    for _ in range(iters):
        t0 = time.perf_counter()
        a @ b
        t.append(time.perf_counter() - t0)
    return {"seconds": t, "gflops": 2 * n ** 3 / statistics.median(t) / 1e9}


if __name__ == "__main__":
    workload, iters, workdir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    threads = int(os.environ.get("GLIMPSE_THREADS", os.cpu_count()))
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    fn = {"matmul": lambda: matmul(iters), "prefill": lambda: prefill(iters), "vision": lambda: vision(iters),
          "train-step": lambda: train_step(iters), "export-clip": lambda: export_clip(workdir)}[workload]
    res = fn()
    res.update({"workload": workload, "side": "pytorch", "threads": threads, "torch": torch.__version__})
    print(json.dumps(res))
