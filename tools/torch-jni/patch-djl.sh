#!/usr/bin/env bash
# Patches a copy of DJL 0.36.0's PyTorch JNI sources (engines/pytorch/pytorch-native) for Glimpse:
#  1. bfloat16 in the data-type mapping: DJL's DataType.BFLOAT16 (ordinal 11) <-> torch::kBFloat16. DJL's own build
#     maps neither way, and an unmapped type hits a bare `throw;`, which terminates the JVM.
#  2. an unmapped type throws a C++ exception (a Java EngineException through DJL's API_END) instead of terminating.
#  3. glimpse_torch.cc (this folder) compiled into the same library: TorchExtension's probe and fused attention.
# Usage: patch-djl.sh PYTORCH_NATIVE_DIR   (edits it in place; run it on a copy)
set -euo pipefail
SRC="$1"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
U="$SRC/src/main/native/djl_pytorch_utils.h"
grep -q "kBFloat16" "$U" && { echo "already patched: $SRC"; exit 0; }
python3 - "$U" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = s.replace("""  } else if (torch::kComplexFloat == type) {
    return 8;
  } else {""", """  } else if (torch::kComplexFloat == type) {
    return 8;
  } else if (torch::kBFloat16 == type) {
    return 11;
  } else {""", 1)
s = s.replace("""    case 8:
      return torch::kComplexFloat;
    default:
      // TODO improve the error handling
      throw;""", """    case 8:
      return torch::kComplexFloat;
    case 11:
      return torch::kBFloat16;
    default:
      TORCH_CHECK(false, "DJL data type ", dtype, " has no torch scalar type");""", 1)
assert "kBFloat16" in s and "throw;" not in s.split("GetScalarTypeFromDType")[1].split("}")[0], "patch did not apply"
open(p, "w").write(s)
PY
cp "$HERE/glimpse_torch.cc" "$SRC/src/main/native/glimpse_torch.cc"
sed -i 's#"src/main/native/ai_djl_pytorch_jni_cache.cc")#"src/main/native/ai_djl_pytorch_jni_cache.cc"\n    "src/main/native/glimpse_torch.cc")#' "$SRC/CMakeLists.txt"
grep -q glimpse_torch.cc "$SRC/CMakeLists.txt" || { echo "CMakeLists.txt: source list not found"; exit 1; }
echo "patched $SRC (bf16 mapping, no terminate on unknown types, glimpse_torch.cc)"
