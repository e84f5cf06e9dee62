package dev.glimpse.language;

import dev.glimpse.core.BadInputException;
import java.util.Locale;

/**
 * How the ONNX engine stores the LLM's matrix weights. fp32 is exact; fp16 halves the file (ONNX Runtime's CPU
 * provider widens it back to fp32 when it loads); int8 and int4 are block-wise weight-only quantization
 * (MatMulNBits), about 1.1 and 0.6 bytes per weight, for LLMs that would not fit otherwise and for decode, which
 * reads every weight once per token.
 */
public enum WeightFormat {
    FP32(0), FP16(0), INT8(8), INT4(4);

    private final int bits;

    WeightFormat(int bits) {
        this.bits = bits;
    }

    /** Quantization bits of MatMulNBits, 0 for the float formats. */
    int bits() {
        return bits;
    }

    /** The format named {@code fp32}, {@code fp16}, {@code int8} or {@code int4} (any case). */
    public static WeightFormat parse(String name) {
        try {
            return valueOf(name.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new BadInputException("unknown weight format '" + name + "': expected fp32, fp16, int8 or int4");
        }
    }

    @Override
    public String toString() {
        return name().toLowerCase(Locale.ROOT);
    }
}
