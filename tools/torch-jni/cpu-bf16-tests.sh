#!/usr/bin/env bash
# The bf16 tests on the CPU. DJL 0.36's prebuilt JNI has no bf16, so `mvn verify` tests mixed precision in fp16 and
# only checks that bf16 is refused; this stage builds Glimpse's patched JNI against Debian's libtorch (CPU, 1.13),
# points DJL at both, and runs the tests whose bf16 branch then runs (bf16 steps, curves, checkpointing and logits
# against fp32), with glimpse.expect.bf16 set so that a JNI that did not load fails them instead of passing quietly.
# Run from the project root after `mvn -B verify` (or install). A missing package registry skips the stage, said
# in one line; a failing test fails it. The built JNI is cached under ~/.cache/glimpse-ci, keyed by its sources.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HERE="$ROOT/tools/torch-jni"
skip() { echo "bf16 stage SKIPPED: $*"; exit 0; }
[ "$(uname -m)" = x86_64 ] && command -v dpkg >/dev/null || skip "needs Debian on x86_64"
INC=/usr/include
LIB=/usr/lib/x86_64-linux-gnu
if [ ! -f "$INC/torch/csrc/api/include/torch/torch.h" ] || [ ! -e "$LIB/libtorch_cpu.so" ]; then
  echo "bf16 stage: installing Debian's libtorch-dev"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libtorch-dev; } \
    >/tmp/glimpse-bf16-apt.log 2>&1 || skip "apt-get install libtorch-dev failed (see /tmp/glimpse-bf16-apt.log)"
fi
TV=$(dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null); TV="${TV%%+*}"
[ -n "$TV" ] || skip "libtorch-dev has no version"
FLAGS=""; case "$TV" in 1.13*) FLAGS="-DV1_13_X";; esac
KEY=$(cat "$HERE"/*.cc "$HERE"/*.sh $(find "$HERE/djl" -type f | sort) | sha256sum | cut -c1-16)
CACHE="${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/glimpse-ci/jni-$TV-$KEY"
if [ ! -f "$CACHE/libdjl_torch.so" ]; then
  echo "bf16 stage: building the patched JNI against libtorch $TV (a few minutes on 2 cores)"
  W=$(mktemp -d); cp -r "$HERE/djl" "$W/djl"
  bash "$HERE/build.sh" "$W/djl/engines/pytorch/pytorch-native" "$INC" "$LIB" "$W/out" $FLAGS >"$W/build.log" 2>&1 \
    || { tail -20 "$W/build.log"; echo "bf16 stage FAILED: the patched JNI does not build against libtorch $TV"; exit 1; }
  mkdir -p "$CACHE" && cp "$W/out/libdjl_torch.so" "$CACHE/" && rm -rf "$W"
fi
# DJL loads every lib*.so in PYTORCH_LIBRARY_PATH: give it a folder with libtorch's three
T="$CACHE/torch-lib"; mkdir -p "$T"
for l in libc10.so libtorch.so libtorch_cpu.so; do ln -sf "$LIB/$l" "$T/$l"; done
export ENGINE_CACHE_DIR="$CACHE/djl" PYTORCH_LIBRARY_PATH="$T" PYTORCH_VERSION="$TV" PYTORCH_FLAVOR=cpu
mkdir -p "$ENGINE_CACHE_DIR/pytorch/$TV-cpu-linux-x86_64"
cp "$CACHE/libdjl_torch.so" "$ENGINE_CACHE_DIR/pytorch/$TV-cpu-linux-x86_64/0.36.0-libdjl_torch.so"
echo "bf16 stage: libtorch $TV with Glimpse's JNI"
cd "$ROOT" && mvn -B -o test -pl core,language,training -am -Dglimpse.expect.bf16=true -Dsurefire.failIfNoSpecifiedTests=false \
  -Dtest='PrecisionTest#*bf16*,MixedPrecisionTest#*bf16*,Bf16ParityTest'
