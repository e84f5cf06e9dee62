package dev.glimpse.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelConfigTest {
    @TempDir
    Path dir;

    @Test
    void transformers5RopeParameters() {
        LanguageModelConfig c = LanguageModelConfig.read(TestData.fixture("tiny-llama3-rope"));
        assertEquals("llama", c.modelType());
        assertEquals("llama3", c.rope().type());
        assertEquals(500000.0, c.rope().theta());
        assertEquals(8.0, c.rope().factor());
        assertEquals(16, c.rope().originalMaxPositionEmbeddings());
        assertEquals(1, c.numKeyValueHeads());
        assertTrue(c.tieWordEmbeddings());
        LanguageModelConfig q3 = LanguageModelConfig.read(TestData.fixture("tiny-qwen3"));
        assertEquals(32, q3.headDim());
        assertEquals(1e6, q3.rope().theta());
        assertFalse(q3.attentionBias());
        assertTrue(LanguageModelConfig.read(TestData.fixture("tiny-qwen2")).attentionBias());
    }

    @Test
    void transformers4Keys() {
        LanguageModelConfig c = LanguageModelConfig.read(TestData.model("stories260k"));
        assertEquals("default", c.rope().type());
        assertEquals(10000.0, c.rope().theta());
        assertEquals(8, c.headDim());
        assertEquals(List.of(2), c.eosTokenIds());
        assertEquals(260_032, c.parameterCount());
        Path f = dir.resolve("config.json");
        write(f, "{\"model_type\":\"llama\",\"vocab_size\":10,\"hidden_size\":8,\"intermediate_size\":16,"
                + "\"num_hidden_layers\":1,\"num_attention_heads\":2,\"rope_theta\":5e5,"
                + "\"rope_scaling\":{\"type\":\"linear\",\"factor\":4.0},\"eos_token_id\":[3,4]}");
        LanguageModelConfig l = LanguageModelConfig.read(dir);
        assertEquals("linear", l.rope().type());
        assertEquals(4.0, l.rope().factor());
        assertEquals(5e5, l.rope().theta());
        assertEquals(List.of(3, 4), l.eosTokenIds());
    }

    @Test
    void parameterCountsMatchTheFixtures() {
        for (String name : List.of("tiny-llama", "tiny-llama3-rope", "tiny-qwen2", "tiny-qwen3")) {
            LanguageModelConfig c = LanguageModelConfig.read(TestData.fixture(name));
            try (Checkpoint ck = Checkpoint.open(TestData.fixture(name))) {
                long n = ck.tensors().stream().mapToLong(TensorInfo::numel).sum();
                assertEquals(n, c.parameterCount(), name);
            }
        }
    }

    @Test
    void visionAndLlavaConfigs() {
        VisionTowerConfig clip = (VisionTowerConfig) ModelConfig.read(TestData.fixture("tiny-clip-vision"));
        assertEquals("clip", clip.family());
        assertEquals(16, clip.numPatches());
        assertEquals("quick_gelu", clip.hiddenAct());
        VisionTowerConfig sig = (VisionTowerConfig) ModelConfig.read(TestData.fixture("tiny-siglip-vision"));
        assertEquals("siglip", sig.family());
        assertEquals(1e-6, sig.layerNormEps());
        LlavaConfig llava = assertInstanceOf(LlavaConfig.class, ModelConfig.read(TestData.fixture("tiny-llava")));
        assertEquals(319, llava.imageTokenIndex());
        assertEquals(-2, llava.visionFeatureLayer());
        assertEquals("qwen2", llava.text().modelType());
        assertEquals(48, llava.vision().hiddenSize());
        PreprocessorConfig p = PreprocessorConfig.read(TestData.fixture("tiny-clip-vision"));
        assertEquals(32, p.shortestEdge());
        assertTrue(p.doCenterCrop());
        assertEquals(3, p.resample());
        PreprocessorConfig s = PreprocessorConfig.read(TestData.fixture("tiny-siglip-vision"));
        assertEquals(32, s.height());
        assertEquals(0.5f, s.imageMean()[0]);
        GenerationConfig g = GenerationConfig.read(TestData.fixture("tiny-llama"));
        assertEquals(List.of(2), g.eosTokenIds());
        TokenizerConfig t = TokenizerConfig.read(TestData.model("stories260k"));
        assertTrue(t.addBosToken());
        assertEquals("<s>", t.bosToken());
    }

    @Test
    void errorsNameTheFileAndField() {
        write(dir.resolve("config.json"), "{\"model_type\":\"gpt_neox\"}");
        BadInputException e = assertThrows(BadInputException.class, () -> ModelConfig.read(dir));
        assertTrue(e.getMessage().contains("model_type 'gpt_neox' is not supported (supported: llama, qwen2, qwen3"),
                e.getMessage());
        write(dir.resolve("config.json"), "{\"model_type\":\"llama\",\"hidden_size\":\"big\"}");
        e = assertThrows(BadInputException.class, () -> ModelConfig.read(dir));
        assertTrue(e.getMessage().contains("config.json: field 'hidden_size' is \"big\", expected an integer"),
                e.getMessage());
        write(dir.resolve("config.json"), "{\"model_type\":\"llama\",\"vocab_size\":8,\"hidden_size\":8,"
                + "\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":4,\"num_key_value_heads\":3}");
        e = assertThrows(BadInputException.class, () -> ModelConfig.read(dir));
        assertTrue(e.getMessage().contains("num_key_value_heads"), e.getMessage());
        write(dir.resolve("config.json"), "{\"model_type\":\"llama\",\"vocab_size\":8,\"hidden_size\":8,"
                + "\"intermediate_size\":8,\"num_hidden_layers\":1,\"num_attention_heads\":4,"
                + "\"rope_scaling\":{\"rope_type\":\"yarn\",\"factor\":2}}");
        e = assertThrows(BadInputException.class, () -> ModelConfig.read(dir));
        assertTrue(e.getMessage().contains("rope_type") && e.getMessage().contains("default, linear, llama3"),
                e.getMessage());
        write(dir.resolve("config.json"), "{not json");
        e = assertThrows(BadInputException.class, () -> ModelConfig.read(dir));
        assertTrue(e.getMessage().contains("not valid JSON"));
        e = assertThrows(BadInputException.class, () -> ModelConfig.read(dir.resolve("missing")));
        assertTrue(e.getMessage().contains("file not found"));
    }

    private static void write(Path p, String s) {
        try {
            Files.writeString(p, s);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }
}
