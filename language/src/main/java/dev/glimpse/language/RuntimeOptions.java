package dev.glimpse.language;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GenerationConfig;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.LanguageModelConfig;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * How to run a {@link LanguageModel}, validated once for every entry point (the CLI, the Java builders, the server):
 * the engine, the device (null: a GPU when libtorch sees one, else the CPU), the DJL engine's compute type (null:
 * its default for the device), the ONNX engine's weight format and accuracy level, ONNX Runtime's intra-op threads
 * (0: its choice) and where built ONNX models are kept (null: the default cache). Immutable.
 */
public record RuntimeOptions(InferenceEngine engine, Device device, DataType dataType, WeightFormat weights,
                             Integer accuracyLevel, int threads, Path onnxCache) {
    public RuntimeOptions {
        engine = engine == null ? InferenceEngine.DJL : engine;
        weights = weights == null ? WeightFormat.FP32 : weights;
        if (weights != WeightFormat.FP32 && engine == InferenceEngine.DJL) {
            throw new BadInputException("weights " + weights + " need the onnx engine (DJL runs fp32, fp16 or bf16:"
                    + " choose those with the data type)");
        }
        if (accuracyLevel != null && weights != WeightFormat.INT8 && weights != WeightFormat.INT4) {
            throw new BadInputException("an accuracy level (onnx engine) applies to int8 / int4 weights, not "
                    + weights);
        }
        if (dataType != null && dataType != DataType.FLOAT32 && dataType != DataType.FLOAT16
                && dataType != DataType.BFLOAT16) {
            throw new BadInputException("the data type must be fp32, fp16 or bf16, got " + dataType);
        }
        if (dataType != null && engine == InferenceEngine.ONNX) {
            throw new BadInputException("the data type is the DJL engine's; the onnx engine takes a weight format");
        }
        if (threads < 0) {
            throw new BadInputException("threads must be 0 (the engine's choice) or more, got " + threads);
        }
    }

    /** DJL on the default device and type. */
    public static RuntimeOptions defaults() {
        return new RuntimeOptions(null, null, null, null, null, 0, null);
    }

    public RuntimeOptions withEngine(InferenceEngine e) {
        return new RuntimeOptions(e, device, dataType, weights, accuracyLevel, threads, onnxCache);
    }

    public RuntimeOptions withDevice(Device d) {
        return new RuntimeOptions(engine, d, dataType, weights, accuracyLevel, threads, onnxCache);
    }

    public RuntimeOptions withDataType(DataType t) {
        return new RuntimeOptions(engine, device, t, weights, accuracyLevel, threads, onnxCache);
    }

    public RuntimeOptions withWeights(WeightFormat w, Integer level) {
        return new RuntimeOptions(engine, device, dataType, w, level, threads, onnxCache);
    }

    public RuntimeOptions withThreads(int n) {
        return new RuntimeOptions(engine, device, dataType, weights, accuracyLevel, n, onnxCache);
    }

    public RuntimeOptions withOnnxCache(Path dir) {
        return new RuntimeOptions(engine, device, dataType, weights, accuracyLevel, threads, dir);
    }

    /**
     * Opens the checkpoint directory {@code dir} (config.json, safetensors, optional tokenizer) with an optional LLM
     * adapter (null for none; its LoRA merged into the weights, as PEFT's merge_and_unload).
     */
    public LanguageModel open(Path dir, LanguageAdapter adapter, Path adapterDir) {
        return switch (engine) {
            case ONNX -> {
                OnnxCausalLM.Builder b = onnx(dir);
                if (adapter != null) {
                    b.mergeLora(adapter, adapterDir);
                }
                yield b.build();
            }
            case DJL -> {
                NDManager m = manager();
                CausalLM lm = CausalLM.load(dir, m, dataType(m));
                if (adapter != null) {
                    attach(lm, adapter);
                }
                yield lm;
            }
        };
    }

    /**
     * Opens the LM inside a bigger checkpoint in {@code dir} (a LLaVA one): its config, and the key prefix and head of
     * its tensors; the tokenizer and generation config are the directory's.
     */
    public LanguageModel openPart(Path dir, LanguageModelConfig config, String prefix, String head) {
        return switch (engine) {
            case ONNX -> onnx(dir).part(config, dir, prefix, head).build();
            case DJL -> {
                NDManager m = manager();
                try (Checkpoint ckpt = Checkpoint.open(dir)) {
                    yield CausalLM.fromCheckpoint(config, ckpt, prefix, head, m, dataType(m),
                            Files.isRegularFile(dir.resolve("tokenizer.json")) ? Tokenizer.load(dir) : null,
                            GenerationConfig.read(dir));
                } catch (RuntimeException e) {
                    m.close();
                    throw e;
                }
            }
        };
    }

    /**
     * The ONNX engine's builder for {@code dir} with these options. Without a device it takes the default both
     * engines share — the GPU when libtorch sees one — where ONNX Runtime's build has CUDA, else the CPU.
     */
    public OnnxCausalLM.Builder onnx(Path dir) {
        // ONNX Runtime's providers first: on its CPU build (the default) libtorch is not started just to find a GPU
        boolean gpu = device != null ? device.isGpu() : onnxCuda() && GlimpseEngine.device().isGpu();
        OnnxCausalLM.Builder b = OnnxCausalLM.builder(dir).weights(weights).threads(threads).gpu(gpu);
        if (accuracyLevel != null) {
            b.accuracyLevel(accuracyLevel);
        }
        return onnxCache != null ? b.cacheDir(onnxCache) : b;
    }

    /** Whether the ONNX Runtime on the class path has the CUDA provider (the -Pgpu build). */
    private static boolean onnxCuda() {
        try {
            return ai.onnxruntime.OrtEnvironment.getAvailableProviders().contains(ai.onnxruntime.OrtProvider.CUDA);
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    /** A manager on this runtime's device for the DJL engine. */
    public NDManager manager() {
        if (threads > 0) {
            GlimpseEngine.threads(threads); // libtorch's pool is one per process: the last setting holds
        }
        return device == null ? GlimpseEngine.newManager() : GlimpseEngine.newManager(device);
    }

    /** The asked type, or the device's default (CausalLM checks that the device runs it). */
    private DataType dataType(NDManager m) {
        return dataType != null ? dataType : CausalLM.defaultType(m);
    }

    private static void attach(CausalLM lm, LanguageAdapter adapter) {
        try {
            lm.attach(adapter, true); // LoRA merged once: inference costs what the plain LLM costs
        } catch (RuntimeException e) {
            lm.close();
            throw e;
        }
    }
}
