package dev.glimpse.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    private static ByteBuffer randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void everyDtypeRoundTripsByteForByte() {
        Path file = dir.resolve("all.safetensors");
        SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt").metadata("note", "ünïcode");
        int i = 0;
        for (DType t : DType.values()) {
            ByteBuffer data = randomBytes(6 * t.bytes(), i++);
            if (t == DType.BOOL) {
                for (int k = 0; k < 6; k++) {
                    data.put(k, (byte) (k % 2));
                }
            }
            w.add("t_" + t, t, new long[] {2, 3}, data);
        }
        w.add("scalar", DType.F32, new long[] {}, new float[] {3.5f});
        w.add("empty", DType.F16, new long[] {0, 4}, new float[0]);
        w.write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertEquals(Map.of("format", "pt", "note", "ünïcode"), f.metadata());
            assertEquals(DType.values().length + 2, f.tensors().size());
            i = 0;
            for (DType t : DType.values()) {
                ByteBuffer expect = randomBytes(6 * t.bytes(), i++);
                if (t == DType.BOOL) {
                    for (int k = 0; k < 6; k++) {
                        expect.put(k, (byte) (k % 2));
                    }
                }
                TensorInfo info = f.info("t_" + t);
                assertEquals(t, info.dtype());
                assertArrayEquals(new long[] {2, 3}, info.shape());
                assertEquals(expect, f.data("t_" + t), "bytes of " + t);
            }
            assertArrayEquals(new float[] {3.5f}, f.toFloats("scalar"));
            assertEquals(0, f.info("empty").byteLength());
        }
        // the header is 8-byte aligned as the reference writer does
        try {
            ByteBuffer head = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(0, head.getLong(0) % 8);
        } catch (java.io.IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void bf16WidensToF32ExactlyForAllBitPatterns() {
        float[] widened = new float[65536];
        ByteBuffer raw = ByteBuffer.allocate(65536 * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int b = 0; b < 65536; b++) {
            raw.putShort((short) b);
        }
        raw.flip();
        Path file = dir.resolve("bf16.safetensors");
        new SafetensorsWriter().add("x", DType.BF16, new long[] {65536}, raw).write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            widened = f.toFloats("x");
        }
        for (int b = 0; b < 65536; b++) {
            int bits = Float.floatToRawIntBits(widened[b]);
            assertEquals(b << 16, bits, "bf16 pattern " + Integer.toHexString(b));
        }
    }

    @Test
    void f16ConversionsAreExactOnRepresentableValues() {
        float[] values = {0f, -0f, 1f, -2.5f, 65504f, 6.1035156e-5f, 5.9604645e-8f, 0.333251953125f,
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY};
        for (float v : values) {
            assertEquals(Float.floatToIntBits(v), Float.floatToIntBits(Half.f16ToFloat(Half.floatToF16(v))), "" + v);
        }
        assertTrue(Float.isNaN(Half.f16ToFloat(Half.floatToF16(Float.NaN))));
        assertEquals(Float.POSITIVE_INFINITY, Half.f16ToFloat(Half.floatToF16(70000f)));
        // round to nearest even: 1 + 2^-11 lies halfway between 1 and 1 + 2^-10
        assertEquals(1f, Half.f16ToFloat(Half.floatToF16(1f + 0x1p-11f)));
        assertEquals(1f + 0x1p-9f, Half.f16ToFloat(Half.floatToF16(1f + 0x1p-10f + 0x1p-11f)));
        // bf16 rounding: nearest even
        assertEquals(1f, Half.bf16ToFloat(Half.floatToBf16(1f + 0x1p-8f)));
        assertEquals(1f + 0x1p-6f, Half.bf16ToFloat(Half.floatToBf16(1f + 0x1p-7f + 0x1p-8f)));
    }

    @Test
    void ndArraysComeOutAsFp32OrFp16() {
        float[] v = {1.5f, -2.25f, 3.0f, 1e-3f, 100f, -0.5f};
        Path file = dir.resolve("nd.safetensors");
        new SafetensorsWriter().add("bf", DType.BF16, new long[] {2, 3}, v).add("f16", DType.F16, new long[] {6}, v)
                .add("f32", DType.F32, new long[] {3, 2}, v).add("f64", DType.F64, new long[] {6}, v)
                .add("ids", DType.I64, new long[] {2}, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                        .putLong(7).putLong(-3).flip())
                .write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file); NDManager m = GlimpseEngine.newCpuManager()) {
            NDArray bf = f.toNDArray(m, "bf", DataType.FLOAT32);
            assertEquals(DataType.FLOAT32, bf.getDataType());
            assertArrayEquals(f.toFloats("bf"), bf.toFloatArray());
            NDArray h = f.toNDArray(m, "f32", DataType.FLOAT16);
            assertEquals(DataType.FLOAT16, h.getDataType());
            assertArrayEquals(new long[] {3, 2}, h.getShape().getShape());
            assertArrayEquals(f.toFloats("f16"), h.toType(DataType.FLOAT32, false).toFloatArray());
            assertArrayEquals(v, f.toNDArray(m, "f32", DataType.FLOAT32).toFloatArray());
            assertArrayEquals(v, f.toNDArray(m, "f64", DataType.FLOAT32).toFloatArray());
            NDArray ids = f.toNDArray(m, "ids", DataType.FLOAT32);
            assertEquals(DataType.INT64, ids.getDataType());
            assertArrayEquals(new long[] {7, -3}, ids.toLongArray());
            // and back: an NDArray written keeps its dtype and values
            Path again = dir.resolve("again.safetensors");
            new SafetensorsWriter().add("x", bf).write(again);
            try (SafetensorsFile g = SafetensorsFile.open(again)) {
                assertArrayEquals(f.toFloats("bf"), g.toFloats("x"));
            }
        }
    }

    @Test
    void writerIsAtomicAndLeavesNoTemporaryFiles() throws Exception {
        Path file = dir.resolve("w.safetensors");
        new SafetensorsWriter().add("a", DType.F32, new long[] {1}, new float[] {1}).write(file);
        new SafetensorsWriter().add("b", DType.F32, new long[] {1}, new float[] {2}).write(file);
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            assertFalse(f.contains("a"));
            assertArrayEquals(new float[] {2}, f.toFloats("b"));
        }
        try (var ls = Files.list(dir)) {
            assertEquals(1, ls.count(), "no temporary files left behind");
        }
    }

    @Test
    void writerRefusesInconsistentInput() {
        SafetensorsWriter w = new SafetensorsWriter();
        assertThrows(IllegalArgumentException.class, () -> w.add("a", DType.F32, new long[] {3}, new float[2]));
        w.add("a", DType.F32, new long[] {1}, new float[1]);
        assertThrows(IllegalArgumentException.class, () -> w.add("a", DType.F32, new long[] {1}, new float[1]));
        assertThrows(IllegalArgumentException.class, () -> w.add("__metadata__", DType.F32, new long[] {1},
                new float[1]));
    }
}
