package dev.glimpse.samples.cli;

import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.InferenceEngine;
import dev.glimpse.language.RuntimeOptions;
import dev.glimpse.language.WeightFormat;
import picocli.CommandLine.Option;

/** The LLM engine options shared by ask, generate, eval run and serve. */
final class EngineOptions {
    @Option(names = "--engine", converter = EngineConverter.class,
            description = "LLM engine: djl (fp32/fp16, as training; the default) or onnx (ONNX Runtime, any "
                    + "--weights; the default when --weights is not fp32).")
    InferenceEngine engine;

    @Option(names = "--weights", defaultValue = "fp32", converter = WeightsConverter.class,
            description = "ONNX engine weights: fp32, fp16, int8 or int4 (built once, cached); default "
                    + "${DEFAULT-VALUE}.")
    WeightFormat weights = WeightFormat.FP32;

    @Option(names = "--accuracy-level", paramLabel = "1|4",
            description = "Activations of int8 / int4 products on the onnx engine: 1 = fp32, 4 = int8 (fastest). "
                    + "Default 1 for int8 (closest to fp32), 4 for int4.")
    Integer accuracyLevel;

    @Option(names = "--dtype", description = "DJL engine compute type: fp32, fp16 or bf16 (default: fp32 on the CPU;"
            + " bf16 on a GPU, fp16 where the JNI has no bf16).")
    String dtype;

    /** The DJL engine's compute type asked for with --dtype, or null for the default; an error on the onnx engine. */
    ai.djl.ndarray.types.DataType dataType() {
        if (dtype == null) {
            return null;
        }
        if (effectiveEngine() != InferenceEngine.DJL) {
            throw new dev.glimpse.core.BadInputException("--dtype is the DJL engine's; the onnx engine takes --weights");
        }
        return dev.glimpse.core.Precision.parse(dtype, "--dtype");
    }

    /** The engine asked for; without --engine, --weights other than fp32 choose onnx. */
    InferenceEngine effectiveEngine() {
        if (engine == InferenceEngine.DJL && weights != WeightFormat.FP32) {
            throw new dev.glimpse.core.BadInputException("--weights " + weights + " needs --engine onnx (DJL runs fp32)");
        }
        return engine != null ? engine : weights != WeightFormat.FP32 ? InferenceEngine.ONNX : InferenceEngine.DJL;
    }

    /** The runtime these options ask for, validated once (the CLI's own messages come first). */
    RuntimeOptions runtime() {
        return RuntimeOptions.defaults().withEngine(effectiveEngine()).withDataType(dataType())
                .withWeights(weights, accuracyLevel);
    }

    VisionLanguageModel load(String name) {
        return VisionLanguageModel.builder().model(name).repository(GlimpseCli.repository()).runtime(runtime())
                .build();
    }

    static final class EngineConverter implements picocli.CommandLine.ITypeConverter<InferenceEngine> {
        @Override
        public InferenceEngine convert(String value) {
            return InferenceEngine.parse(value);
        }
    }

    static final class WeightsConverter implements picocli.CommandLine.ITypeConverter<WeightFormat> {
        @Override
        public WeightFormat convert(String value) {
            return WeightFormat.parse(value);
        }
    }
}
