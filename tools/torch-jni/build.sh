#!/usr/bin/env bash
# Builds DJL 0.36.0's PyTorch JNI with Glimpse's patch (patch-djl.sh) with plain g++ against an installed libtorch:
#   build.sh DJL_NATIVE_SRC TORCH_INCLUDE TORCH_LIB OUT_DIR [extra g++ flags, e.g. -DV1_13_X for libtorch 1.13]
# DJL_NATIVE_SRC is a copy of DJL's engines/pytorch/pytorch-native (it is patched in place); the result is
# OUT_DIR/libdjl_torch.so. CI uses it against Debian's libtorch (CPU) to test bf16; on a GPU machine run.sh uses
# CMake against the pip torch instead.
set -euo pipefail
SRC="$1"; INC="$2"; LIB="$3"; OUT="$4"; shift 4
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
JI="${JAVA_INCLUDE:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")/include}"
bash "$HERE/patch-djl.sh" "$SRC"
mkdir -p "$OUT/obj"
ls "$SRC"/src/main/native/*.cc | xargs -P "$(nproc)" -I{} sh -c \
  "g++ -O1 -std=c++17 -fPIC -D_GLIBCXX_USE_CXX11_ABI=1 $* -I'$INC' -I'$INC/torch/csrc/api/include' \
   -I'$SRC/build/include' -I'$JI' -I'$JI/linux' -I'$SRC/../../../api/src/main/native' \
   -c {} -o '$OUT/obj/'\$(basename {}).o"
g++ -shared -o "$OUT/libdjl_torch.so" "$OUT"/obj/*.o -L"$LIB" -ltorch -ltorch_cpu -lc10 -Wl,-rpath,"$LIB"
echo "$OUT/libdjl_torch.so"
