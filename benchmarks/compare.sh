#!/usr/bin/env bash
# Side-by-side benchmarks: Glimpse and PyTorch (eager, fp32, same shapes, same thread count, random weights built
# in-process), run alternately. Writes benchmarks/results/<date>.md; the last line on stdout is worst_ratio=<x>.
# Not part of `mvn verify`. Needs root for apt the first time (Debian's python3-torch, python3-onnx and OpenBLAS:
# Debian's torch links the generic libblas.so.3, and the BLAS alternative decides whether its matmul is fast).
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${GLIMPSE_THREADS:-$(nproc)}"
ROUNDS="${ROUNDS:-2}"
ITERS="${ITERS:-3}"
PY=/usr/bin/python3
WORK=benchmarks/target/work
mkdir -p "$WORK" benchmarks/results
if ! "$PY" -c "import torch, onnx" 2>/dev/null || [ ! -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
  echo "installing Debian's python3-torch, python3-onnx and OpenBLAS..." >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-onnx libopenblas0-pthread >&2
fi
echo "building..." >&2
mvn -B -q -DskipTests install -pl benchmarks -am >&2
(cd benchmarks && mvn -B -q dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >&2)
CP="benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)"
RESULTS="$WORK/results-$(date +%s).jsonl"
run_java() { java -Xmx12g -Dglimpse.threads="$THREADS" -Dglimpse.home="$PWD" -cp "$CP" dev.glimpse.benchmarks.Bench "$@" 2>>"$WORK/java.log" | tail -1 >>"$RESULTS"; }
run_torch() { GLIMPSE_THREADS="$THREADS" "$PY" benchmarks/torch_bench.py "$@" 2>>"$WORK/torch.log" | tail -1 >>"$RESULTS"; }
[ -f "$WORK/clip-b16-onnx/vision_model.onnx" ] || run_torch export-clip 1 "$WORK"
for round in $(seq "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  run_java matmul 10 "$WORK";          run_torch matmul 10 "$WORK"
  run_java prefill "$ITERS" "$WORK";    run_torch prefill "$ITERS" "$WORK"
  run_java vision-onnx "$ITERS" "$WORK"; run_java vision-djl "$ITERS" "$WORK"; run_torch vision "$ITERS" "$WORK"
  run_java train-step "$ITERS" "$WORK"; run_torch train-step "$ITERS" "$WORK"
  run_java train-step-lora "$ITERS" "$WORK"; run_java train-step-prompt "$ITERS" "$WORK"
done
run_java sqa-eval 1 "$WORK" ../shared
"$PY" benchmarks/report.py "$RESULTS" "$THREADS" | tee "benchmarks/results/$(date +%F).md"
