#!/usr/bin/env bash
# Glimpse's GPU benchmark, one command on the device machine (no network, no Java: .gpu/ from prepare.sh brings it).
# Side by side in one run, on the same random-weight checkpoints (make_checkpoints.py, bf16):
#   check  mixed-precision steps (bf16, fp16) against fp32 on the GPU, fused and explicit attention; fp32 greedy ids
#   train  adapter-step samples/s and peak GPU memory: Glimpse bf16 vs PyTorch bf16 + SDPA at Qwen2.5-0.5B, 1.5B and
#          LLaMA-7B shapes (576 image + 128 text tokens, batch 16)
#   infer  prefill and greedy decode tokens/s, Glimpse bf16 vs transformers generate, 0.5B and 7B
#   (and, when prepare.sh made .gpu/export-ref, issue #24's LLaVA export through transformers)
#   extra  0.5B: Glimpse bf16 with explicit attention, with activation checkpointing, fp16 + loss scaling,
#          fp32 + TF32; PyTorch fp32 + TF32 (last: the first to go when the budget runs out)
# Results: $OUT/results.jsonl (one JSON line per run, with nvidia-smi's peak), $OUT/report.md, logs.
# Knobs: OUT, WORK (default /tmp/glimpse-gpu), PHASES (default "check train infer extra"), BUDGET_S (default 560:
# a step that would start later is skipped and says so), BATCH (16), STEPS (5), SHAPES (train shapes).
set -u
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
G="$ROOT/.gpu"
HERE="$ROOT/benchmarks/gpu"
OUT="${OUT:-$ROOT/gpu-out}"
WORK="${WORK:-/tmp/glimpse-gpu}"
BUDGET_S="${BUDGET_S:-560}"
PHASES="${PHASES:-check train infer extra}"
BATCH="${BATCH:-16}"
STEPS="${STEPS:-5}"
SHAPES="${SHAPES:-qwen2.5-0.5b qwen2.5-1.5b llama-7b}"
mkdir -p "$OUT" "$WORK"
RES="$OUT/results.jsonl"
LOG="$OUT/run.log"
: >"$LOG"
T_START=$(date +%s)
say() { echo "$*" | tee -a "$OUT/summary.txt"; }
elapsed() { echo $(( $(date +%s) - T_START )); }
has() { case " $PHASES " in *" $1 "*) return 0;; esac; return 1; }
left() { [ "$(elapsed)" -lt "$BUDGET_S" ] || { say "SKIP $1: past the ${BUDGET_S}s budget at $(elapsed)s"; return 1; }; }

# ---------------------------------------------------------------- environment
say "=== environment $(date -u +%FT%TZ)"
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -3; nproc; free -g | head -2; } \
  | tee "$OUT/env.txt"
PY=python3
TORCH_DIR=$($PY -c 'import os,torch;print(os.path.dirname(torch.__file__))' 2>/dev/null)
[ -f "$TORCH_DIR/lib/libtorch.so" ] || { say "FATAL: no torch in python3"; exit 2; }
TV=$($PY -c 'import torch;print(torch.__version__)')
TCUDA=$($PY -c 'import torch;print(torch.version.cuda or "")')
$PY -c 'import transformers,torch;print("transformers",transformers.__version__,"torch",torch.__version__,torch.cuda.get_device_name(0))' \
  2>&1 | tee -a "$OUT/env.txt"
PT_VERSION="${TV%%+*}"
FLAVOR="cpu"; [ -n "$TCUDA" ] && FLAVOR="cu$(echo "$TCUDA" | tr -d .)"; [ ${#FLAVOR} -eq 4 ] && FLAVOR="${FLAVOR}0"
JRE="$WORK/jre0"
[ -x "$JRE/bin/java" ] || tar -xJf "$G/jre.tar.xz" -C "$WORK" 2>/dev/null \
  || $PY -c "import tarfile,sys;tarfile.open(sys.argv[1]).extractall(sys.argv[2])" "$G/jre.tar.xz" "$WORK"
JAVA="$JRE/bin/java"

# ---------------------------------------------------------------- #24: a LLaVA export through transformers (CPU,
# in the background while the GPU works)
EXPORT_CHECK=""
if [ -d "$G/export-ref" ]; then
  timeout 180 $PY "$ROOT/tools/fixtures/check_llava_export.py" "$G/export-ref" >"$OUT/llava-export-check.txt" 2>&1 &
  EXPORT_CHECK=$!
fi

# ---------------------------------------------------------------- DJL's JNI, patched for Glimpse (fallback: as is)
build_jni() {  # SRC_DIR BUILD_DIR -> prints the .so path
  local src=$1 b=$2
  rm -rf "$b"; mkdir -p "$b"
  export PATH="$PATH:/usr/local/cuda/bin" TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"
  cmake -S "$src" -B "$b" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$TORCH_DIR/share/cmake" -DUSE_CUDA=1 \
    -DJAVA_INCLUDE_PATH="$G/jni-include" -DJAVA_INCLUDE_PATH2="$G/jni-include/linux" \
    -DJAVA_AWT_INCLUDE_PATH="$G/jni-include" -DJAVA_JVM_LIBRARY="$JRE/lib/server/libjvm.so" >>"$LOG" 2>&1 || return 1
  cmake --build "$b" -j "$(nproc)" >>"$LOG" 2>&1 || return 1
  if [ -f "$b/CMakeFiles/djl_torch.dir/link.txt" ]; then  # as DJL's build.sh: torch brings its own cudart/nvrtc
    sed -i -r "s#[^ ]*/lib(64)?/lib(cudart|nvrtc)\.so[^ ]*##g" "$b/CMakeFiles/djl_torch.dir/link.txt"
    (cd "$b" && rm -f libdjl_torch.so && bash CMakeFiles/djl_torch.dir/link.txt) >>"$LOG" 2>&1 || return 1
  fi
  [ -f "$b/libdjl_torch.so" ] && echo "$b/libdjl_torch.so"
}
T0=$(date +%s)
JNI_SO="$WORK/jni/libdjl_torch.so"
PATCHED=0
if [ -f "$JNI_SO" ] && [ -f "$WORK/jni/patched" ]; then PATCHED=$(cat "$WORK/jni/patched")
else
  mkdir -p "$WORK/jni"
  rm -rf "$WORK/djl-src" && cp -r "$ROOT/tools/torch-jni/djl" "$WORK/djl-src"
  NATIVE="$WORK/djl-src/engines/pytorch/pytorch-native"
  SO=""
  if bash "$ROOT/tools/torch-jni/patch-djl.sh" "$NATIVE" >>"$LOG" 2>&1; then
    SO=$(build_jni "$NATIVE" "$WORK/build-patched") && PATCHED=1
  fi
  if [ -z "$SO" ]; then
    say "patched JNI build FAILED (first errors below); building DJL's JNI as it is"
    grep -m8 "error" "$LOG" | tee -a "$OUT/summary.txt"
    rm -rf "$WORK/djl-src" && cp -r "$ROOT/tools/torch-jni/djl" "$WORK/djl-src"
    SO=$(build_jni "$WORK/djl-src/engines/pytorch/pytorch-native" "$WORK/build-plain") || { say "FATAL: JNI build failed"; tail -30 "$LOG"; exit 1; }
  fi
  cp "$SO" "$JNI_SO"; echo "$PATCHED" >"$WORK/jni/patched"
fi
say "JNI ($(( $(date +%s) - T0 )) s): patched=$PATCHED (1: bf16 + fused attention from tools/torch-jni)"

# ---------------------------------------------------------------- DJL offline, pointed at this torch
export ENGINE_CACHE_DIR="$WORK/djl-cache" DJL_CACHE_DIR="$WORK/djl-cache"
export PYTORCH_LIBRARY_PATH="$TORCH_DIR/lib" PYTORCH_VERSION="$PT_VERSION" PYTORCH_FLAVOR="$FLAVOR"
mkdir -p "$ENGINE_CACHE_DIR/pytorch/$PT_VERSION-$FLAVOR-linux-x86_64"
cp "$JNI_SO" "$ENGINE_CACHE_DIR/pytorch/$PT_VERSION-$FLAVOR-linux-x86_64/0.36.0-libdjl_torch.so"
EXCL=""
for f in "$TORCH_DIR"/lib/lib*.so*; do
  n=$(basename "$f")
  case "$n" in libc10.so|libc10_cuda.so|libgomp*|libtorch.so|libtorch_cpu.so|libtorch_cuda.so|libcaffe2_nvrtc.so) ;;
    *) EXCL="$EXCL,$n";; esac
done
export PYTORCH_LIBRARY_EXCLUSION="${EXCL#,}"
export LD_LIBRARY_PATH="$TORCH_DIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" OPT_OUT_TRACKING=true
CUDART=$(ls "$TORCH_DIR"/../nvidia/*/lib/libcudart.so* "$TORCH_DIR"/../nvidia/cu*/lib/libcudart.so* \
  /usr/local/cuda/lib64/libcudart.so* 2>/dev/null | head -1)
CUDART_DIR=""; [ -n "$CUDART" ] && CUDART_DIR=$(dirname "$CUDART") && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$CUDART_DIR"
CP="$G/glimpse.jar:$(ls "$G"/lib/*.jar | paste -sd:)"
JOPTS=(-Xmx64g -Dai.djl.offline=true ${CUDART_DIR:+-Djna.library.path=$CUDART_DIR} -cp "$CP")

# ---------------------------------------------------------------- one measured run: label, timeout, command...
record() {  # LABEL JSON_LINE PEAK_MIB WALL_S
  $PY - "$@" >>"$RES" <<'EOF'
import json, sys
label, line, peak, wall = sys.argv[1:5]
r = json.loads(line)
r.update(label=label, nvidia_smi_peak_mib=int(peak) if peak.isdigit() else None, wall_s=int(wall))
print(json.dumps(r))
EOF
}
run() {  # LABEL TIMEOUT CMD...
  local label=$1 to=$2; shift 2
  local t0 mon peak line rc
  t0=$(date +%s)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$WORK/mem-$label.csv" 2>/dev/null &
  mon=$!
  echo "### $label: $*" >>"$LOG"
  timeout "$to" "$@" >"$WORK/out-$label.txt" 2>"$WORK/err-$label.txt"; rc=$?
  cat "$WORK/err-$label.txt" >>"$LOG"
  kill "$mon" 2>/dev/null; wait "$mon" 2>/dev/null
  peak=$(sort -n "$WORK/mem-$label.csv" | tail -1)
  line=$(grep -h '^RESULT \|^{' "$WORK/out-$label.txt" | tail -1 | sed 's/^RESULT //')
  if [ $rc -eq 0 ] && [ -n "$line" ]; then
    record "$label" "$line" "$peak" $(( $(date +%s) - t0 ))
    say "PASS $label ($(( $(date +%s) - t0 )) s, peak ${peak} MiB): $(echo "$line" | cut -c1-260)"
  else
    say "FAIL $label rc=$rc (124: timeout; $(( $(date +%s) - t0 )) s, peak ${peak} MiB): $(grep -m1 -iE "exception|error[: ]" "$WORK/err-$label.txt" "$WORK/out-$label.txt" | cut -c1-300)"
    grep -h -v "^\s*at " "$WORK/err-$label.txt" | tail -4 >>"$OUT/summary.txt"
  fi
  return $rc
}
jb() {  # LABEL TIMEOUT [-Dprop...] -- GpuBench args
  local label=$1 to=$2; shift 2
  local props=()
  while [ "$1" != "--" ]; do props+=("$1"); shift; done; shift
  run "$label" "$to" "$JAVA" "${JOPTS[@]}" "${props[@]}" dev.glimpse.benchmarks.GpuBench "$@"
}
CK="$WORK/ckpt"

# ---------------------------------------------------------------- checkpoints (7B in the background)
T0=$(date +%s)
$PY "$HERE/make_checkpoints.py" "$CK" qwen2.5-0.5b qwen2.5-1.5b >>"$LOG" 2>&1 || say "FAIL checkpoints"
say "checkpoints 0.5B/1.5B: $(( $(date +%s) - T0 )) s"
CK7=""
case " $SHAPES " in *" llama-7b "*) $PY "$HERE/make_checkpoints.py" "$CK" llama-7b >>"$LOG" 2>&1 & CK7=$!;; esac

# ---------------------------------------------------------------- check: precision against fp32 on the GPU
if has check; then
  left check && jb check-fused 150 -Dglimpse.tf32=false -- check gpu "$ROOT"
  left check-explicit && jb check-explicit 150 -Dglimpse.tf32=false -Dglimpse.attention=explicit -- check gpu "$ROOT"
fi
[ -n "$CK7" ] && { wait "$CK7"; say "checkpoint 7B written at $(elapsed) s"; }

# ---------------------------------------------------------------- train: Glimpse bf16 vs PyTorch bf16 + SDPA
DT=bf16; [ "$PATCHED" = 1 ] || DT=fp16
if has train; then
  for s in $SHAPES; do
    left "train $s" || break
    jb "glimpse-$DT-$s" 200 -- train gpu "$CK/$s" $DT "$BATCH" "$STEPS" \
      || { [ "$s" = llama-7b ] && jb "glimpse-$DT-ckpt-$s" 200 -Dbench.checkpointing=true -- train gpu "$CK/$s" $DT "$BATCH" "$STEPS"; }
    left "torch $s" && run "torch-bf16-sdpa-$s" 200 $PY "$HERE/adapter_step_gpu.py" "$CK/$s" bf16 sdpa 0 "$BATCH" "$STEPS"
  done
fi

# ---------------------------------------------------------------- inference: prefill + decode
if has infer; then
  for s in qwen2.5-0.5b llama-7b; do
    [ -d "$CK/$s" ] || continue
    left "gen $s" && jb "glimpse-gen-$DT-$s" 150 -- gen gpu "$CK/$s" $DT 512 128
    left "hf gen $s" && run "hf-gen-bf16-$s" 150 $PY "$HERE/generate_gpu.py" "$CK/$s" bf16 512 128
  done
fi

# ---------------------------------------------------------------- extra rows at 0.5B
if has extra; then
  s=qwen2.5-0.5b
  [ "$PATCHED" = 1 ] && left "explicit" && jb "glimpse-bf16-explicit-$s" 150 -Dglimpse.attention=explicit -- train gpu "$CK/$s" bf16 "$BATCH" "$STEPS"
  left "ckpt" && jb "glimpse-$DT-ckpt-$s" 150 -Dbench.checkpointing=true -- train gpu "$CK/$s" $DT "$BATCH" "$STEPS"
  left "fp16" && jb "glimpse-fp16-explicit-$s" 150 -Dglimpse.attention=explicit -- train gpu "$CK/$s" fp16 "$BATCH" "$STEPS"
  left "fp32" && jb "glimpse-fp32-tf32-$s" 200 -- train gpu "$CK/$s" fp32 "$BATCH" "$STEPS"
  left "torch fp32" && run "torch-fp32-tf32-$s" 150 $PY "$HERE/adapter_step_gpu.py" "$CK/$s" fp32 sdpa 1 "$BATCH" "$STEPS"
fi

# ---------------------------------------------------------------- #24's export check: its result
if [ -n "$EXPORT_CHECK" ]; then
  wait "$EXPORT_CHECK" && say "PASS llava-export: $(grep -E '^(logits|chat)' "$OUT/llava-export-check.txt" | tr '\n' ' ')" \
    || say "FAIL llava-export: $(tail -3 "$OUT/llava-export-check.txt" | tr '\n' ' ')"
fi

$PY "$HERE/report_gpu.py" "$RES" "$OUT/report.png" >"$OUT/report.md" 2>>"$LOG" || say "report failed (see run.log)"
say "=== done in $(elapsed) s; $(grep -c . "$RES" 2>/dev/null || echo 0) results in $RES"
cat "$OUT/report.md" 2>/dev/null | head -60
