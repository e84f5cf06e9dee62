package dev.glimpse.training;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** torch.amp.GradScaler's rules: unscale by the reciprocal, halve on overflow, double after a run of good steps. */
class LossScalerTest {
    @Test
    void backsOffOnOverflowAndGrowsAfterTheInterval() {
        LossScaler s = LossScaler.dynamic(1024, 3);
        Map<String, float[]> g = new LinkedHashMap<>();
        g.put("w", new float[] {2048f, -512f});
        assertTrue(s.unscale(g));
        assertArrayEquals(new float[] {2f, -0.5f}, g.get("w"));
        s.update(true);
        s.update(true);
        assertEquals(1024, s.scale());
        s.update(true);
        assertEquals(2048, s.scale(), "doubled after 3 good steps");
        assertEquals(0, s.goodSteps());
        g.put("w", new float[] {1f, Float.POSITIVE_INFINITY});
        assertFalse(s.unscale(g));
        s.update(false);
        assertEquals(1024, s.scale(), "halved on overflow");
        g.put("w", new float[] {Float.NaN});
        assertFalse(s.unscale(g), "NaN is an overflow too");
    }

    @Test
    void disabledScalerNeverScalesNorSkips() {
        LossScaler s = LossScaler.disabled();
        Map<String, float[]> g = Map.of("w", new float[] {Float.POSITIVE_INFINITY});
        assertTrue(s.unscale(g));
        s.update(false);
        assertEquals(1, s.scale());
    }
}
