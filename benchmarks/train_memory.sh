#!/usr/bin/env bash
# Peak memory of one adapter training step on the CPU (Qwen2.5-0.5B shape, fp32, batch 4 x (576 image + 128 text)
# tokens, explicit attention), side by side: Glimpse at HEAD, Glimpse at BASE (a git revision, default the parent of
# the change that added per-layer scopes), and PyTorch eager (benchmarks/torch_bench.py, Debian's python3-torch).
# Peak RSS from /usr/bin/time, with glibc's mmap threshold fixed at 128 KiB (MALLOC_MMAP_THRESHOLD_) so that every
# tensor-sized block goes back to the system when freed and RSS follows live tensors (with the default dynamic
# threshold, two runs of the same code differed by 3 GiB); each process also holds the 2 GB of fp32 weights.
# Prints a Markdown table.
# Usage: bash benchmarks/train_memory.sh [BASE]   (root for apt the first time, as compare.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BASE="${1:-42a159e}"
PY=/usr/bin/python3
WORK=benchmarks/target/work
mkdir -p "$WORK"
if ! "$PY" -c "import torch" 2>/dev/null || [ ! -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-pthread >&2
fi
export MALLOC_MMAP_THRESHOLD_=131072 GLIMPSE_THREADS="${GLIMPSE_THREADS:-$(nproc)}"
build_cp() {  # DIR -> classpath of its benchmarks module, Glimpse's own modules from that tree's target/classes
  (cd "$1" && mvn -B -q -o -DskipTests package -pl benchmarks -am >&2 \
    && cd benchmarks && mvn -B -q -o dependency:build-classpath -Dmdep.outputFile=target/classpath.txt >&2)
  echo "$1/benchmarks/target/classes:$(tr ':' '\n' <"$1/benchmarks/target/classpath.txt" \
    | sed -E "s#.*/dev/glimpse/glimpse-([a-z0-9]+)/[^/]+/glimpse-[a-z0-9]+-[^/]+\.jar#$1/\1/target/classes#" | paste -sd:)"
}
OLD=/tmp/glimpse-base-$BASE
[ -d "$OLD" ] || git worktree add -f "$OLD" "$BASE" >&2
CP_NEW=$(build_cp "$PWD")
CP_OLD=$(build_cp "$OLD")
peak() {  # LABEL CMD... -> "label | peak GiB | median step s"
  local label=$1; shift
  /usr/bin/time -v "$@" >"$WORK/mem-$label.out" 2>"$WORK/mem-$label.err" || { echo "| $label | failed | |"; return; }
  local kb; kb=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$WORK/mem-$label.err")
  local s; s=$(tail -1 "$WORK/mem-$label.out" | "$PY" -c 'import json,sys,statistics;print("%.1f" % statistics.median(json.loads(sys.stdin.read())["seconds"]))' 2>/dev/null || echo "?")
  echo "| $label | $(awk "BEGIN{printf \"%.2f\", $kb/1048576}") | $s |"
}
echo "| adapter step, 0.5B shape, fp32, batch 4 x 704 tokens, CPU | peak RSS GiB | median step s |"
echo "|---|---:|---:|"
peak "Glimpse $(git rev-parse --short HEAD)" java -Xmx12g -Dglimpse.home="$PWD" -cp "$CP_NEW" dev.glimpse.benchmarks.Bench train-step 1 "$WORK"
peak "Glimpse $BASE (before)" java -Xmx12g -Dglimpse.home="$PWD" -cp "$CP_OLD" dev.glimpse.benchmarks.Bench train-step 1 "$WORK"
peak "PyTorch $("$PY" -c 'import torch;print(torch.__version__)') eager" "$PY" benchmarks/torch_bench.py train-step 1 "$WORK"
