package dev.glimpse.core;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.file.Path;

/**
 * Fuzz tests of core's parsers of outside input: safetensors files (header and data ranges), sharded checkpoints'
 * index, every config.json kind, preprocessor, tokenizer and generation configs. The property: success or
 * BadInputException, nothing else, within {@link Fuzzing#LIMIT_SECONDS} per input. Seeds and every crash found live in
 * {@code src/test/resources/dev/glimpse/core/ParsersFuzzTestInputs/<test>/}.
 */
class ParsersFuzzTest {
    static final Path DIR = Fuzzing.scratch("core");

    /** A safetensors file: open it (header rules), then read every tensor it declares (data ranges, dtypes). */
    @FuzzTest(maxDuration = "60s")
    void safetensors(byte[] file) {
        Path p = Fuzzing.write(DIR, "x.safetensors", file);
        Fuzzing.onlyBadInput(() -> {
            try (SafetensorsFile f = SafetensorsFile.open(p); NDManager m = GlimpseEngine.newCpuManager()) {
                f.metadata();
                for (TensorInfo t : f.tensors()) {
                    f.data(t.name());
                    if (t.dtype().isFloating()) {
                        f.toFloats(t.name());
                        f.toNDArray(m, t.name(), DataType.FLOAT32).close();
                    }
                }
            }
        });
    }

    /**
     * A sharded checkpoint: the input's first part is the index JSON, the rest one shard it may point to (split at
     * the first NUL byte).
     */
    @FuzzTest(maxDuration = "60s")
    void shardedIndex(byte[] input) {
        byte[][] parts = Fuzzing.splitAtNul(input);
        Path dir = DIR.resolve("sharded");
        dir.toFile().mkdirs();
        Fuzzing.write(dir, Checkpoint.INDEX, parts[0]);
        Fuzzing.write(dir, "model-00001-of-00001.safetensors", parts[1]);
        Fuzzing.onlyBadInput(() -> {
            try (Checkpoint c = Checkpoint.open(dir)) {
                for (TensorInfo t : c.tensors()) {
                    if (t.dtype().isFloating()) {
                        c.toFloats(t.name());
                    }
                }
            }
        });
    }

    /** config.json of any kind (Llama, Qwen2, Qwen3, LLaVA, CLIP, SigLIP): every typed reader that takes one. */
    @FuzzTest(maxDuration = "60s")
    void configJson(byte[] json) {
        Path p = Fuzzing.write(DIR, "config.json", json);
        Fuzzing.onlyBadInput(() -> LanguageModelConfig.read(p));
        Fuzzing.onlyBadInput(() -> ModelConfig.read(p));
    }

    /** preprocessor_config.json, tokenizer_config.json and generation_config.json. */
    @FuzzTest(maxDuration = "60s")
    void otherConfigs(byte[] json) {
        Path dir = DIR.resolve("configs");
        dir.toFile().mkdirs();
        Fuzzing.write(dir, "preprocessor_config.json", json);
        Fuzzing.write(dir, "tokenizer_config.json", json);
        Fuzzing.write(dir, "generation_config.json", json);
        Fuzzing.onlyBadInput(() -> PreprocessorConfig.read(dir));
        Fuzzing.onlyBadInput(() -> TokenizerConfig.read(dir));
        Fuzzing.onlyBadInput(() -> GenerationConfig.read(dir));
    }

}
