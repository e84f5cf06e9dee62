"""Random-weight checkpoints in Hugging Face layout (config.json + bf16 model.safetensors) for the GPU benchmark.

Glimpse (Java) and PyTorch/transformers read the same files, so every row of the benchmark runs the same weights.
Weights are drawn on the GPU (uniform, std 0.02) and written tensor by tensor with a small safetensors writer (no
dependency beyond torch; a 7B checkpoint is never whole in host memory).
Usage: python3 make_checkpoints.py WORK_DIR SHAPE...   (shapes: see SHAPES; an existing checkpoint is kept)
"""
import json
import os
import struct
import sys

import torch

SHAPES = {
    "qwen2.5-0.5b": dict(model_type="qwen2", h=896, ff=4864, layers=24, heads=14, kv=2, hd=64, vocab=151936,
                         bias=True, tie=True, rope_theta=1000000.0, max_pos=32768),
    "qwen2.5-1.5b": dict(model_type="qwen2", h=1536, ff=8960, layers=28, heads=12, kv=2, hd=128, vocab=151936,
                         bias=True, tie=True, rope_theta=1000000.0, max_pos=32768),
    "llama-7b": dict(model_type="llama", h=4096, ff=11008, layers=32, heads=32, kv=32, hd=128, vocab=32000,
                     bias=False, tie=False, rope_theta=10000.0, max_pos=4096),
    "tiny": dict(model_type="qwen2", h=64, ff=172, layers=2, heads=4, kv=2, hd=16, vocab=512,
                 bias=True, tie=True, rope_theta=10000.0, max_pos=2048),
}


def tensors(s):
    """(name, shape, kind) in checkpoint order; kind: w (random), one (norm weights)."""
    h, q, kv, ff = s["h"], s["heads"] * s["hd"], s["kv"] * s["hd"], s["ff"]
    yield "model.embed_tokens.weight", (s["vocab"], h), "w"
    for i in range(s["layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (h,), "one"
        yield p + "post_attention_layernorm.weight", (h,), "one"
        for n, o in (("q", q), ("k", kv), ("v", kv)):
            yield p + f"self_attn.{n}_proj.weight", (o, h), "w"
            if s["bias"]:
                yield p + f"self_attn.{n}_proj.bias", (o,), "w"
        yield p + "self_attn.o_proj.weight", (h, q), "w"
        yield p + "mlp.gate_proj.weight", (ff, h), "w"
        yield p + "mlp.up_proj.weight", (ff, h), "w"
        yield p + "mlp.down_proj.weight", (h, ff), "w"
    yield "model.norm.weight", (h,), "one"
    if not s["tie"]:
        yield "lm_head.weight", (s["vocab"], h), "w"


def write(name, s, out):
    if os.path.isfile(os.path.join(out, "model.safetensors")):
        return
    os.makedirs(out, exist_ok=True)
    config = {"architectures": ["Qwen2ForCausalLM" if s["model_type"] == "qwen2" else "LlamaForCausalLM"],
              "model_type": s["model_type"], "vocab_size": s["vocab"], "hidden_size": s["h"],
              "intermediate_size": s["ff"], "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
              "num_key_value_heads": s["kv"], "head_dim": s["hd"], "max_position_embeddings": s["max_pos"],
              "rms_norm_eps": 1e-6, "rope_theta": s["rope_theta"], "tie_word_embeddings": s["tie"],
              "hidden_act": "silu", "torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2}
    if s["model_type"] == "llama":
        config["attention_bias"] = False
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    specs = list(tensors(s))
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for n, shape, _ in specs:
        size = 2 * int(torch.tensor(shape).prod())
        header[n] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [off, off + size]}
        off += size
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    g = torch.Generator(device=dev).manual_seed(1)
    tmp = os.path.join(out, ".model.safetensors.tmp")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for n, shape, kind in specs:
            if kind == "one":
                t = torch.ones(shape, dtype=torch.bfloat16, device=dev)
            else:
                t = ((torch.rand(shape, generator=g, device=dev) * 2 - 1) * (0.02 * 3 ** 0.5)).to(torch.bfloat16)
            f.write(t.view(torch.int16).cpu().numpy().tobytes())
    os.replace(tmp, os.path.join(out, "model.safetensors"))


if __name__ == "__main__":
    work = sys.argv[1]
    for name in sys.argv[2:]:
        write(name, SHAPES[name], os.path.join(work, name))
        print(json.dumps({"mode": "ckpt", "model": name, "dir": os.path.join(work, name)}), flush=True)
