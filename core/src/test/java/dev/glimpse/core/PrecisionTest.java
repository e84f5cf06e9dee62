package dev.glimpse.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import org.junit.jupiter.api.Test;

/** The graph-keeping cast, the type names, and what the loaded JNI allows. */
class PrecisionTest {
    @Test
    void castsInsideARecordedGraphPassGradientsBothWays() {
        try (NDManager m = GlimpseEngine.newCpuManager()) {
            NDArray x = m.create(new float[] {1.5f, 2.25f, -3.1f, 4f}, new Shape(2, 2));
            x.setRequiresGradient(true);
            try (GradientCollector gc = GlimpseEngine.engine().newGradientCollector()) {
                NDArray y = x.mul(x);
                NDArray h = Precision.cast(y, DataType.FLOAT16); // narrowed inside the graph
                assertEquals(DataType.FLOAT16, h.getDataType());
                NDArray back = Precision.cast(h.mul(h), DataType.FLOAT32); // widened inside the graph
                assertEquals(DataType.FLOAT32, back.getDataType());
                gc.backward(back.sum());
            }
            // d/dx sum(x^4) = 4x^3; x^2 and x^4 are rounded to fp16 on the way (relative 2^-11 each)
            float[] g = x.getGradient().toFloatArray();
            float[] want = {13.5f, 45.5625f, -119.164f, 256f};
            for (int i = 0; i < g.length; i++) {
                assertEquals(want[i], g[i], Math.abs(want[i]) * 4 * Math.scalb(1.0, -11), "element " + i);
            }
        }
    }

    @Test
    void outsideAGraphTheCastIsPlainAndTheSameTypeIsNoCast() {
        try (NDManager m = GlimpseEngine.newCpuManager()) {
            NDArray x = m.create(new float[] {1f, 65536f});
            assertTrue(Precision.cast(x, DataType.FLOAT32) == x);
            NDArray h = Precision.cast(x, DataType.FLOAT16);
            assertArrayEquals(new float[] {1f, Float.POSITIVE_INFINITY},
                    h.toType(DataType.FLOAT32, false).toFloatArray(), "65536 is past fp16's largest, 65504");
        }
    }

    @Test
    void namesParseAndBadOnesSayWhatIsExpected() {
        assertEquals(DataType.BFLOAT16, Precision.parse("bf16", "--dtype"));
        assertEquals(DataType.FLOAT16, Precision.parse("FP16", "--dtype"));
        assertEquals(DataType.FLOAT32, Precision.parse("float32", "--dtype"));
        assertEquals("bf16", Precision.name(DataType.BFLOAT16));
        BadInputException e = assertThrows(BadInputException.class, () -> Precision.parse("int8", "--dtype"));
        assertEquals("--dtype: expected fp32, fp16 or bf16, got 'int8'", e.getMessage());
    }

    @Test
    void bf16IsAvailableOnlyWithGlimpsesJniAndOtherwiseRefusedBeforeAnythingNativeIsMade() {
        // DJL's prebuilt JNI (what mvn verify runs) has neither the extension nor bf16; making a bf16 tensor through
        // it would abort the JVM, so the refusal must come first and be one line
        if (TorchExtension.available()) {
            Precision.require(DataType.BFLOAT16, ai.djl.Device.cpu());
            try (NDManager m = GlimpseEngine.newCpuManager()) {
                // through the patched mapping both ways: made as bf16, read back as bf16, rounded as bf16 rounds
                NDArray b = m.create(new float[] {1f, 1.00390625f, 3.14159f}).toType(DataType.BFLOAT16, false);
                assertEquals(DataType.BFLOAT16, b.getDataType());
                assertArrayEquals(new float[] {1f, 1f, 3.140625f}, b.toType(DataType.FLOAT32, false).toFloatArray());
            }
            return;
        }
        assertFalse(Boolean.getBoolean("glimpse.expect.bf16"), "the bf16 stage's JNI did not load");
        assertFalse(Precision.bfloat16Available());
        BadInputException e = assertThrows(BadInputException.class,
                () -> Precision.require(DataType.BFLOAT16, ai.djl.Device.cpu()));
        assertTrue(e.getMessage().startsWith("bf16 needs DJL's PyTorch JNI built with Glimpse's extension"),
                e.getMessage());
        assertThrows(BadInputException.class, () -> Precision.require(DataType.INT8, ai.djl.Device.cpu()));
        Precision.require(DataType.FLOAT16, ai.djl.Device.cpu());
    }
}
