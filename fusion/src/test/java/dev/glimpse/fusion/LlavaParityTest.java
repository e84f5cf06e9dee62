package dev.glimpse.fusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.TestData;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** A whole LLaVA checkpoint (tower + projector + Qwen2) against transformers' logits. */
class LlavaParityTest {
    @Test
    void logitsFromInputIdsAndPixelValues() {
        Path dir = TestData.fixture("tiny-llava");
        try (VisionLanguageModel vlm = VisionLanguageModel.load(dir.toString());
             SafetensorsFile ref = SafetensorsFile.open(dir.resolve("reference.safetensors"))) {
            assertEquals(16, vlm.tower().numTokens(), "layer -2, CLS dropped");
            float[] ids = ref.toFloats("input_ids");
            long[] l = new long[ids.length];
            for (int i = 0; i < l.length; i++) {
                l[i] = (long) ids[i];
            }
            float[] got = vlm.logits(l, 319, ref.toFloats("pixel_values"), 1);
            float[] want = ref.toFloats("logits");
            assertEquals(want.length, got.length);
            double err = 0;
            for (int i = 0; i < want.length; i++) {
                err = Math.max(err, Math.abs(got[i] - want[i]));
            }
            System.out.printf("tiny-llava logits max-abs error %.3g%n", err);
            // measured 7.8e-7
            assertTrue(err <= 1e-5, "max-abs " + err);
        }
    }
}
