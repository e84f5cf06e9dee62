#!/usr/bin/env bash
# What in-LLM adapters add to an adapter training step, measured side by side in one run: the projector-only step,
# + LoRA r=8 on q_proj/v_proj, + LLaMA-Adapter (10 prompt tokens in each of the top 20 layers), alternating, on the
# benchmark's Qwen2.5-0.5B-shaped random checkpoint (576 image + 128 text tokens, batch 4). Prints a Markdown table
# and ends with worst_overhead=<x> (target: at most 1.15). Not part of `mvn verify`.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${GLIMPSE_THREADS:-$(nproc)}"
ROUNDS="${ROUNDS:-1}"
ITERS="${ITERS:-2}"
WORK=benchmarks/target/work
mkdir -p "$WORK"
mvn -B -q -DskipTests install -pl benchmarks -am >&2
(cd benchmarks && mvn -B -q dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >&2)
CP="benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)"
RESULTS="$WORK/overhead-$(date +%s).jsonl"
for round in $(seq "$ROUNDS"); do
  for wl in train-step train-step-lora train-step-prompt; do
    echo "round $round/$ROUNDS: $wl" >&2
    java -Xmx12g -Dglimpse.threads="$THREADS" -Dglimpse.home="$PWD" -cp "$CP" dev.glimpse.benchmarks.Bench "$wl" \
      "$ITERS" "$WORK" 2>>"$WORK/java.log" | tail -1 >>"$RESULTS"
  done
done
/usr/bin/python3 - "$RESULTS" "$THREADS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
t = {}
n = {}
for r in rows:
    t.setdefault(r["workload"], []).extend(r["seconds"])
    n[r["workload"]] = r.get("trainable_parameters")
base = statistics.median(t["train-step"])
print(f"| adapter step ({sys.argv[2]} threads) | trainable parameters | median s | vs projector only |")
print("|---|---:|---:|---:|")
worst = 0
for wl, name in (("train-step", "projector only (mlp2x_gelu)"), ("train-step-lora", "+ LoRA r=8, q_proj/v_proj"),
                 ("train-step-prompt", "+ LLaMA-Adapter, 10 tokens x 20 layers")):
    m = statistics.median(t[wl])
    worst = max(worst, m / base)
    print(f"| {name} | {n[wl]:,} | {m:.2f} | {m / base:.3f} |")
print(f"\nworst_overhead={worst:.3f}")
PY
