package dev.glimpse.core;

import ai.djl.ndarray.NDArray;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.engine.PtNDManager;

/**
 * Glimpse's few native functions, compiled into DJL's PyTorch JNI when it is built from source with
 * {@code tools/torch-jni} (as the GPU kit does): bfloat16 in DJL's data-type mapping (DJL 0.36's prebuilt JNI has
 * none, and a bf16 tensor made through it aborts the JVM) and libtorch's fused
 * {@code scaled_dot_product_attention} (flash / memory-efficient kernels, with autograd). With DJL's prebuilt JNI
 * none of this is present: {@link #available()} is false, nothing native is called, and Glimpse runs fp32 / fp16
 * with explicit attention.
 *
 * <p>The probe is a plain JNI lookup: a missing symbol is an {@link UnsatisfiedLinkError}, never a crash. It finds
 * the functions only when the JNI was loaded by this class's class loader (the usual single-loader application).
 *
 * <p>Thread-safe.
 */
public final class TorchExtension {
    private static volatile Boolean available;
    private static volatile boolean fused;

    private TorchExtension() {}

    private static native int version();

    private static native boolean hasFusedAttention();

    private static native long scaledDotProductAttention(long q, long k, long v, long mask, boolean causal,
                                                         double scale);

    /** Whether the loaded JNI carries Glimpse's extension (bf16 and fused attention). Starts the engine. */
    public static boolean available() {
        probe();
        return available;
    }

    /**
     * Whether {@link #attention} is there: the extension built against libtorch 2.0 or later (which has
     * scaled_dot_product_attention), and {@code glimpse.attention} / {@code GLIMPSE_ATTENTION} is not
     * {@code explicit}. Decided once per process, like {@link #available()}.
     */
    public static boolean fusedAttention() {
        probe();
        return fused;
    }

    private static void probe() {
        if (available != null) {
            return;
        }
        synchronized (TorchExtension.class) {
            if (available != null) {
                return;
            }
            GlimpseEngine.engine(); // the JNI must be loaded before its symbols can be found
            boolean found;
            boolean sdpa = false;
            try {
                found = version() >= 1;
                sdpa = found && hasFusedAttention();
            } catch (UnsatisfiedLinkError e) {
                found = false;
            }
            found &= !"false".equals(System.getProperty("glimpse.torch.extension",
                    System.getenv("GLIMPSE_TORCH_EXTENSION")));
            fused = found && sdpa && !"explicit".equals(System.getProperty("glimpse.attention",
                    System.getenv("GLIMPSE_ATTENTION")));
            available = found; // written last: readers that see it also see fused
        }
    }

    /**
     * softmax(q·kᵀ·scale + mask)·v through libtorch's fused kernel, differentiable. q [B, h, T, d], k and v
     * [B, h, S, d] (heads already repeated for grouped queries), mask additive [B or 1, 1, T, S] of q's type or null;
     * {@code causal} (then mask must be null) masks key s > query t with the top-left alignment SDPA uses, so only
     * for T == S. The result lives in q's manager.
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v, NDArray mask, boolean causal, double scale) {
        if (!fusedAttention()) {
            throw new IllegalStateException("fused attention is not available (see TorchExtension.fusedAttention)");
        }
        if (causal && mask != null) {
            throw new IllegalArgumentException("causal attention takes no mask");
        }
        long h = scaledDotProductAttention(handle(q), handle(k), handle(v), mask == null ? 0 : handle(mask), causal,
                scale);
        return new PtNDArray((PtNDManager) q.getManager(), h);
    }

    private static long handle(NDArray a) {
        return ((PtNDArray) a).getHandle();
    }
}
