// Glimpse's native extension, compiled into DJL's PyTorch JNI (libdjl_torch.so) by patch-djl.sh: the JVM finds
// these functions for dev.glimpse.core.TorchExtension because DJL loads that library through the same class loader.
// Each function takes and returns DJL's tensor handles (a heap-allocated torch::Tensor*, as DJL's own JNI does) and
// turns a C++ exception into a Java one: nothing here may abort the JVM.
#include <jni.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <optional>
#include <string>

namespace {
void throw_java(JNIEnv* env, const std::string& msg) {
  jclass cls = env->FindClass("dev/glimpse/core/GlimpseException");
  if (cls == nullptr) {
    env->ExceptionClear();
    cls = env->FindClass("java/lang/RuntimeException");
  }
  env->ThrowNew(cls, msg.c_str());
}
}  // namespace

extern "C" {

// 1: bfloat16 in DJL's data-type mapping; with libtorch >= 2.0 also scaled_dot_product_attention below.
JNIEXPORT jint JNICALL Java_dev_glimpse_core_TorchExtension_version(JNIEnv*, jclass) { return 1; }

JNIEXPORT jboolean JNICALL Java_dev_glimpse_core_TorchExtension_hasFusedAttention(JNIEnv*, jclass) {
  return TORCH_VERSION_MAJOR >= 2 ? JNI_TRUE : JNI_FALSE;
}

// softmax(q k^T * scale + mask) v through at::scaled_dot_product_attention, which picks flash / memory-efficient /
// cuDNN kernels on CUDA and records itself for autograd (no grad guard here, unlike DJL's own casts).
JNIEXPORT jlong JNICALL Java_dev_glimpse_core_TorchExtension_scaledDotProductAttention(
    JNIEnv* env, jclass, jlong jq, jlong jk, jlong jv, jlong jmask, jboolean jcausal, jdouble jscale) {
  try {
#if TORCH_VERSION_MAJOR < 2
    // libtorch 1.x has no scaled_dot_product_attention: refuse (Java falls back to explicit attention on this flag)
    (void)jq; (void)jk; (void)jv; (void)jmask; (void)jcausal; (void)jscale;
    throw std::runtime_error("this libtorch (< 2.0) has no scaled_dot_product_attention");
#else
    const auto* q = reinterpret_cast<torch::Tensor*>(jq);
    const auto* k = reinterpret_cast<torch::Tensor*>(jk);
    const auto* v = reinterpret_cast<torch::Tensor*>(jv);
    std::optional<at::Tensor> mask;
    if (jmask != 0) {
      mask = *reinterpret_cast<torch::Tensor*>(jmask);
    }
    auto out = at::scaled_dot_product_attention(*q, *k, *v, mask, 0.0, jcausal == JNI_TRUE,
                                                std::optional<double>(static_cast<double>(jscale)));
    return reinterpret_cast<jlong>(new torch::Tensor(out));
#endif
  } catch (const std::exception& e) {
    throw_java(env, std::string("scaled_dot_product_attention: ") + e.what());
    return 0;
  }
}

}  // extern "C"
