#!/usr/bin/env bash
# The LLM engines side by side (issue #13), one process per row so each row's peak RSS is its own: random bf16
# checkpoints at Qwen2.5-0.5B, Qwen2.5-1.5B and LLaMA-7B shapes; the ONNX engine in fp32/fp16/int8/int4 (and
# int8@4: int8 at accuracy level 4) against DJL fp32 and llama.cpp Q4_0 on the same weights and threads; memory
# bandwidth. Prints Markdown tables; writes the JSON lines to benchmarks/target/llm-work/results-<time>.jsonl. Not part of `mvn verify`. Needs ~40 GB of disk
# (the 7B checkpoint is 13.5 GB) and ~25 minutes on 2 cores. SHAPES=small runs only the 0.5B rows.
set -euo pipefail
cd "$(dirname "$0")/.."
THREADS="${GLIMPSE_THREADS:-2}"
ITERS="${ITERS:-2}"
WORK=benchmarks/target/llm-work
mkdir -p "$WORK"
mvn -B -q -DskipTests -Dinvoker.skip install -pl benchmarks -am >&2
(cd benchmarks && mvn -B -q dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >&2)
CP="benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)"
RESULTS="$WORK/results-$(date +%s).jsonl"
bench() { java -Xmx20g -Dglimpse.threads="$THREADS" -cp "$CP" dev.glimpse.benchmarks.LlmEngineBench "$@" 2>>"$WORK/java.log" | tail -1 | tee -a "$RESULTS" >&2; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/{print $2}') GB" | tee -a "$WORK/machine.txt"
bench bandwidth
S=qwen2.5-0.5b
bench checkpoint $S "$WORK"
for f in fp32 fp16 int8 int8@4 int4; do bench build $S $f "$WORK"; done
bench gguf $S "$WORK"
bench run $S djl fp32 "$WORK" "$ITERS" 700 32
for f in fp32 fp16 int8 int8@4 int4; do bench run $S onnx $f "$WORK" "$ITERS" 700 32; done
bench run $S llama.cpp q4_0 "$WORK" "$ITERS" 700 32
for n in 1 4 8; do bench batch $S int4 "$WORK" $n 64 32; done # continuous batching: sequences decoded together
if [ "${SHAPES:-all}" = all ]; then
  for S in qwen2.5-1.5b llama-7b; do
    bench checkpoint $S "$WORK"
    for f in int8 int4; do bench build $S $f "$WORK"; done
    bench run $S onnx int4 "$WORK" 1 64 8
  done
fi
bench bandwidth
java -cp "$CP" -Dglimpse.threads="$THREADS" dev.glimpse.benchmarks.LlmEngineBench report "$RESULTS"
