package dev.glimpse.language;

import dev.glimpse.core.BadInputException;
import java.util.Locale;

/**
 * Which engine runs the frozen LLM for answering, scoring and serving: DJL (libtorch, fp32/fp16, the one training
 * uses) or ONNX Runtime ({@link OnnxCausalLM}: fp32, fp16, int8 or int4 weights).
 */
public enum InferenceEngine {
    DJL, ONNX;

    /** The engine named {@code djl} or {@code onnx} (any case). */
    public static InferenceEngine parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new BadInputException("unknown engine '" + name + "': expected djl or onnx");
        }
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
