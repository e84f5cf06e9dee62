package dev.glimpse.language;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.TestData;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Greedy generation through ONNX Runtime equals the DJL model's, token for token. */
class OnnxCausalLMTest {
    @TempDir
    static Path cache;

    static GenerationOptions greedy(int n) {
        return GenerationOptions.builder().maxNewTokens(n).useModelStopTokens(false).build();
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-llama", "tiny-llama3-rope", "tiny-qwen2", "tiny-qwen3"})
    void greedyTokensEqualTheDjlModel(String fixture) {
        Path dir = TestData.fixture(fixture);
        int[] prompt = {1, 17, 99, 3, 250, 41};
        int[] djl;
        try (CausalLM lm = CausalLM.load(dir, GlimpseEngine.newCpuManager(), DataType.FLOAT32)) {
            djl = lm.generate(prompt, greedy(12), null);
        }
        try (OnnxCausalLM onnx = OnnxCausalLM.builder(dir).cacheDir(cache).build()) {
            assertArrayEquals(djl, onnx.generate(prompt, greedy(12)), fixture);
        }
    }

    /** A real model: stories260k's 200 greedy tokens from BOS, as transformers made them (reference.json). */
    @Test
    void stories260kReproducesTheReference200Tokens() throws Exception {
        Path dir = TestData.model("stories260k");
        JsonNode bos = new ObjectMapper().readTree(dir.resolve("reference.json").toFile()).get("bos_greedy");
        int[] prompt = StoriesAndTokenizerTest.ints(bos.get("prompt_ids"));
        try (OnnxCausalLM onnx = OnnxCausalLM.builder(dir).cacheDir(cache).build()) {
            assertArrayEquals(StoriesAndTokenizerTest.ints(bos.get("ids")), onnx.generate(prompt, greedy(200)));
        }
    }
}
