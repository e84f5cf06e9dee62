package dev.glimpse.fusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.TestData;
import dev.glimpse.language.CausalLM;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdapterAndPromptTest {
    @Test
    void adaptersRoundTripAndRefuseAnotherTowerOrLlm(@TempDir Path dir) {
        Projector p = Projector.initialize(ProjectorType.MLP2X_GELU, 48, 64, true, 3);
        AdapterConfig c = new AdapterConfig(ProjectorType.MLP2X_GELU, 48, 64, 64, 16, true, "tiny-clip-vision", "-2",
                "tiny-qwen2");
        new Adapter(p, c).save(dir);
        Adapter back = Adapter.load(dir);
        assertEquals(c, back.config());
        for (Map.Entry<String, float[]> e : p.parameters().values().entrySet()) {
            assertArrayEquals(e.getValue(), back.projector().parameters().values().get(e.getKey()), 0f, e.getKey());
        }
        assertEquals(0f, back.projector().parameters().values().get("gate")[0], "the gate starts closed");
        c.checkCompatible("tiny-clip-vision", "-2", 16, 48, "tiny-qwen2", 64);
        BadInputException e = assertThrows(BadInputException.class,
                () -> c.checkCompatible("tiny-siglip-vision", "-2", 16, 48, "tiny-qwen2", 64));
        assertTrue(e.getMessage().contains("trained on vision tower 'tiny-clip-vision'"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> c.checkCompatible("tiny-clip-vision", "-1", 16, 48,
                "tiny-qwen2", 64));
        assertTrue(e.getMessage().contains("layer '-2'"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> c.checkCompatible("tiny-clip-vision", "-2", 17, 48,
                "tiny-qwen2", 64));
        assertTrue(e.getMessage().contains("16 image tokens of width 48"), e.getMessage());
        e = assertThrows(BadInputException.class, () -> c.checkCompatible("tiny-clip-vision", "-2", 16, 48,
                "tiny-llama", 64));
        assertTrue(e.getMessage().contains("trained for LLM 'tiny-qwen2'"), e.getMessage());
    }

    @Test
    void zeroGateLeavesImageSlotsEmptyAndSeveralImagesSpliceInOrder() {
        try (CausalLM lm = CausalLM.load(TestData.model("stories260k"), GlimpseEngine.newCpuManager(),
                DataType.FLOAT32); NDManager m = GlimpseEngine.newCpuManager()) {
            MultimodalPrompt p = MultimodalPrompt.encode(lm.requireTokenizer(), "<image> and <image>\nWhich?", 2);
            assertEquals(2, p.images());
            assertEquals(4, p.slots());
            // two images of two tokens each: rows 0-1 then 2-3 of the image embeddings, in prompt order
            NDArray img = m.arange(0f, 4f * 64f).reshape(4, 64);
            NDArray e = lm.splice(m, new int[][] {p.ids()}, img);
            int[] ids = p.ids();
            int k = 0;
            for (int j = 0; j < ids.length; j++) {
                if (ids[j] == MultimodalPrompt.SLOT) {
                    assertArrayEquals(img.get(k).toFloatArray(), e.get(0).get(j).toFloatArray(), 0f);
                    k++;
                }
            }
            assertEquals(4, k);
            assertThrows(BadInputException.class, () -> lm.splice(m, new int[][] {ids},
                    m.zeros(new Shape(3, 64))));
            // a closed gate: projected features are exactly zero
            Projector gated = Projector.initialize(ProjectorType.LINEAR, 64, 64, true, 1);
            NDArray out = gated.forward(m.ones(new Shape(2, 64)), gated.toNDArrays(m, false));
            assertEquals(0f, out.abs().max().getFloat());
        }
    }
}
