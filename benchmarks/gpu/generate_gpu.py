"""transformers' generate on the same checkpoints as GpuBench's gen mode: prefill time of a random prompt and greedy
decode tokens/s for exactly NEW tokens (no stop token), batch 1, KV cache, after one warm-up call.
Usage: python3 generate_gpu.py MODEL_DIR DTYPE(bf16|fp16|fp32) PROMPT NEW
"""
import json
import sys
import time

import torch
from transformers import AutoModelForCausalLM

TYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def main(model_dir, dtype, prompt, new):
    torch.backends.cuda.matmul.allow_tf32 = False
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=TYPES[dtype], attn_implementation="sdpa").to("cuda")
    model.eval()
    g = torch.Generator(device="cuda").manual_seed(9)
    ids = torch.randint(3, model.config.vocab_size, (1, prompt), device="cuda", generator=g)
    kw = dict(do_sample=False, eos_token_id=None, pad_token_id=0)
    with torch.no_grad():
        model.generate(ids, max_new_tokens=4, min_new_tokens=4, **kw)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        model(ids)  # the prefill alone
        torch.cuda.synchronize()
        prefill = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = model.generate(ids, max_new_tokens=new, min_new_tokens=new, **kw)
        torch.cuda.synchronize()
        total = time.perf_counter() - t0
    n = out.shape[1] - prompt
    print(json.dumps(dict(mode="hf-gen", model=model_dir.rstrip("/").split("/")[-1], dtype=dtype, prompt=prompt,
                          new_tokens=n, prefill_s=prefill, prefill_tok_s=prompt / prefill,
                          decode_tok_s=(n - 1) / max(1e-9, total - prefill), transformers_generate_s=total)),
          flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], int(a[2]), int(a[3]))
