package dev.glimpse.core;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.pytorch.jni.JniUtils;
import java.util.Locale;

/**
 * The floating-point types Glimpse computes in (fp32, fp16, bf16) and the one cast between them that keeps the
 * autograd graph. DJL's {@code toType} runs under a no-grad guard, so a cast inside a training graph would silently
 * stop gradients; {@link #cast} widens by type promotion (adding a one-element zero of the wider type) and narrows by
 * copying into an array of the narrower type (a slice assignment, which autograd follows), both differentiable.
 *
 * <p>Thread-safe.
 */
public final class Precision {
    private static final NDIndex ALL = new NDIndex(":");

    private Precision() {}

    /** {@code fp32|fp16|bf16} (also float32, float16, half, bfloat16) → DJL's type; anything else a one-line error. */
    public static DataType parse(String name, String field) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "fp32", "float32", "f32" -> DataType.FLOAT32;
            case "fp16", "float16", "half", "f16" -> DataType.FLOAT16;
            case "bf16", "bfloat16" -> DataType.BFLOAT16;
            default -> throw new BadInputException(field + ": expected fp32, fp16 or bf16, got '" + name + "'");
        };
    }

    /** The short name: fp32, fp16 or bf16. */
    public static String name(DataType type) {
        return switch (type) {
            case FLOAT32 -> "fp32";
            case FLOAT16 -> "fp16";
            case BFLOAT16 -> "bf16";
            default -> type.toString();
        };
    }

    /**
     * Checks that {@code type} can be computed in on {@code device} with the loaded libtorch JNI: bf16 needs Glimpse's
     * JNI build (a bf16 tensor made through DJL's prebuilt JNI aborts the JVM); other non-float types are refused.
     */
    public static void require(DataType type, Device device) {
        if (type == DataType.FLOAT32 || type == DataType.FLOAT16) {
            return;
        }
        if (type != DataType.BFLOAT16) {
            throw new BadInputException("compute type must be fp32, fp16 or bf16, not " + type);
        }
        if (!TorchExtension.available()) {
            throw new BadInputException("bf16 needs DJL's PyTorch JNI built with Glimpse's extension (DJL 0.36's"
                    + " prebuilt JNI has no bfloat16; see docs/gpu.md); on " + device + " use fp16"
                    + (device.isGpu() ? " (with loss scaling when training)" : "") + " or fp32");
        }
    }

    /** Whether bf16 works with the loaded JNI. */
    public static boolean bfloat16Available() {
        return TorchExtension.available();
    }

    /**
     * {@code x} as {@code type}; while a gradient collector records (grad mode), the cast is part of the autograd
     * graph (gradients flow back in {@code x}'s type). Returns {@code x} itself when the type already matches.
     */
    public static NDArray cast(NDArray x, DataType type) {
        DataType from = x.getDataType();
        if (from == type) {
            return x;
        }
        if (!JniUtils.isGradMode()) {
            // no graph is being recorded (DJL's requiresGrad is false for non-leaves, so the mode decides)
            return x.toType(type, false);
        }
        NDManager m = x.getManager();
        if (wider(type, from)) {
            // promotion: a dimensioned zero of the wider type makes the sum that type, and add's backward casts back
            return x.add(m.zeros(new Shape(1), type));
        }
        NDArray out = m.create(x.getShape(), type);
        out.set(ALL, x); // copy_ narrows; its backward widens the gradient to x's type
        return out;
    }

    private static boolean wider(DataType a, DataType b) {
        return a.getNumOfBytes() > b.getNumOfBytes();
    }
}
