package dev.glimpse.language;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.TestData;
import org.junit.jupiter.api.Test;

/** The LLM is frozen, yet gradients reach inputs_embeds — checked against central finite differences. */
class GradientFlowTest {
    @Test
    void gradientToInputsEmbedsMatchesFiniteDifferences() {
        try (CausalLM lm = CausalLM.load(TestData.fixture("tiny-qwen2"), GlimpseEngine.newCpuManager(),
                DataType.FLOAT32); NDManager m = GlimpseEngine.newCpuManager()) {
            Engine.getEngine("PyTorch").setRandomSeed(3);
            NDArray x = m.randomNormal(0, 1, new Shape(1, 6, 64), DataType.FLOAT32);
            NDArray weights = m.randomNormal(0, 0.1f, new Shape(1, 6, 320), DataType.FLOAT32);
            NDArray dir = m.randomNormal(0, 1, new Shape(1, 6, 64), DataType.FLOAT32);
            x.setRequiresGradient(true);
            float analytic;
            try (GradientCollector gc = Engine.getEngine("PyTorch").newGradientCollector()) {
                NDArray loss = lm.forward(CausalLM.Input.embeds(x)).logits().mul(weights).sum();
                gc.backward(loss);
            }
            NDArray grad = x.getGradient();
            analytic = grad.mul(dir).sum().getFloat();
            assertTrue(Math.abs(analytic) > 1e-3, "a gradient arrived: " + analytic);
            for (NDArray p : lm.model().parameters()) {
                assertFalse(p.hasGradient(), "frozen weights take no gradient");
            }
            double eps = 1e-2;
            NDArray xs = x.stopGradient();
            double plus = lm.forward(CausalLM.Input.embeds(xs.add(dir.mul(eps)))).logits().mul(weights).sum()
                    .toType(DataType.FLOAT64, false).getDouble();
            double minus = lm.forward(CausalLM.Input.embeds(xs.sub(dir.mul(eps)))).logits().mul(weights).sum()
                    .toType(DataType.FLOAT64, false).getDouble();
            double numeric = (plus - minus) / (2 * eps);
            // fp32 central differences: truncation O(eps^2) plus rounding ~1e-7*|L|/eps; 1 % is far above both
            assertEquals(numeric, analytic, 0.01 * Math.abs(numeric), "directional derivative");
        }
    }
}
