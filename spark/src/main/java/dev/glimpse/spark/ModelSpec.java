package dev.glimpse.spark;

import ai.djl.Device;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Precision;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.InferenceEngine;
import dev.glimpse.language.RuntimeOptions;
import dev.glimpse.language.WeightFormat;
import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Which model an executor loads, and how: what travels from the driver to the executors (plain strings, so it
 * serializes) and the key of {@link ExecutorModels}' cache. {@code model} is a bundle or LLaVA directory on a path
 * every executor sees, a hub id already in the executors' model cache, or {@code sparkfiles:NAME} for a directory the
 * driver shipped with {@code SparkContext.addFile(dir, true)}.
 *
 * @param engine djl or onnx; null for the library's default (djl for fp32 weights)
 * @param weights fp32, fp16, int8 or int4 (onnx); null for fp32
 * @param accuracyLevel int8 / int4 activations on the onnx engine (1 = fp32, 4 = int8); null for the default
 * @param device cpu or gpu; null for the library's default (a GPU when one is seen)
 * @param dtype the DJL engine's compute type (fp32, fp16, bf16); null for the default
 * @param threads the engine's threads per executor JVM; 0 for the engine's default
 */
public record ModelSpec(String model, String engine, String weights, Integer accuracyLevel, String device, String dtype,
                        int threads) implements Serializable {
    /** The prefix naming a directory shipped with {@code SparkContext.addFile}. */
    public static final String SPARK_FILES = "sparkfiles:";

    public ModelSpec {
        if (model == null || model.isBlank()) {
            throw new BadInputException("model: a bundle directory, LLaVA directory, hub id or sparkfiles:NAME");
        }
        if (threads < 0) {
            throw new BadInputException("threads: " + threads + " is negative");
        }
        // every field checked on the driver, not in a task (a compact constructor sees its parameters, not fields)
        runtime(engine, weights, accuracyLevel, device, dtype, threads);
    }

    /** A model with the library's defaults for everything else. */
    public static ModelSpec of(String model) {
        return new ModelSpec(model, null, null, null, null, null, 0);
    }

    /** The runtime these fields ask for. */
    RuntimeOptions runtime() {
        return runtime(engine, weights, accuracyLevel, device, dtype, threads);
    }

    /** The runtime of these fields (one line naming the field when one does not parse). */
    private static RuntimeOptions runtime(String engine, String weights, Integer accuracyLevel, String device,
                                          String dtype, int threads) {
        WeightFormat w = weights == null ? WeightFormat.FP32 : WeightFormat.parse(weights);
        InferenceEngine e = engine != null ? InferenceEngine.parse(engine)
                : w != WeightFormat.FP32 ? InferenceEngine.ONNX : InferenceEngine.DJL;
        RuntimeOptions r = RuntimeOptions.defaults().withEngine(e).withWeights(w, accuracyLevel)
                .withDevice(device(device));
        if (dtype != null) {
            r = r.withDataType(Precision.parse(dtype, "dtype"));
        }
        return threads > 0 ? r.withThreads(threads) : r;
    }

    /** cpu or gpu, or null for the library's default. */
    static Device device(String name) {
        return name == null ? null : switch (name.toLowerCase(Locale.ROOT)) {
            case "cpu" -> Device.cpu();
            case "gpu", "cuda" -> Device.gpu();
            default -> throw new BadInputException("device '" + name + "': expected cpu or gpu");
        };
    }

    /** Loads the model on this JVM (an executor's, or the driver's in local mode). */
    VisionLanguageModel load() {
        return VisionLanguageModel.builder().model(local(model)).runtime(runtime()).build();
    }

    /** A model reference on this JVM: a directory shipped as {@code sparkfiles:NAME} resolved through SparkFiles. */
    static String local(String ref) {
        if (!ref.startsWith(SPARK_FILES)) {
            return ref;
        }
        Path p = Path.of(org.apache.spark.SparkFiles.get(ref.substring(SPARK_FILES.length())));
        if (!Files.exists(p)) {
            throw new BadInputException(ref + ": not among the files shipped with SparkContext.addFile (looked in "
                    + p + ")");
        }
        return p.toString();
    }
}
