package dev.glimpse.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Moves tensor bytes between safetensors dtypes, Java arrays and DJL arrays. */
final class TensorCodec {
    private TensorCodec() {}

    static float[] toFloats(DType dtype, ByteBuffer src, int n) {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        float[] out = new float[n];
        switch (dtype) {
            case F32 -> b.asFloatBuffer().get(out);
            case F64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) b.getDouble(i * 8);
                }
            }
            case F16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Half.f16ToFloat(b.getShort(i * 2));
                }
            }
            case BF16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Half.bf16ToFloat(b.getShort(i * 2));
                }
            }
            case I64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getLong(i * 8);
                }
            }
            case I32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getInt(i * 4);
                }
            }
            case I16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.getShort(i * 2);
                }
            }
            case I8, BOOL -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(i);
                }
            }
            case U8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = b.get(i) & 0xff;
                }
            }
            default -> throw new IllegalStateException(dtype.toString());
        }
        return out;
    }

    static NDArray toNDArray(NDManager manager, TensorInfo t, ByteBuffer data, DataType floatType) {
        if (floatType != DataType.FLOAT32 && floatType != DataType.FLOAT16 && floatType != DataType.BFLOAT16) {
            throw new IllegalArgumentException("floatType must be FLOAT32, FLOAT16 or BFLOAT16, not " + floatType);
        }
        if (floatType == DataType.BFLOAT16) {
            Precision.require(floatType, manager.getDevice()); // a bf16 array through DJL's own JNI aborts the JVM
        }
        Shape shape = new Shape(t.shape());
        int n = Math.toIntExact(t.numel());
        switch (t.dtype()) {
            case F32 -> {
                NDArray a = manager.create(direct(data), shape, DataType.FLOAT32);
                return floatType == DataType.FLOAT32 ? a : convert(a, floatType);
            }
            case F16 -> {
                NDArray a = manager.create(direct(data), shape, DataType.FLOAT16);
                return floatType == DataType.FLOAT16 ? a : convert(a, floatType);
            }
            case BF16 -> {
                if (Precision.bfloat16Available()) {
                    // Glimpse's JNI knows bf16: the bytes go to the device as they are
                    NDArray a = manager.create(direct(data), shape, DataType.BFLOAT16);
                    return floatType == DataType.BFLOAT16 ? a : convert(a, floatType);
                }
                // DJL's prebuilt JNI aborts on bf16 arrays: widen in Java first
                NDArray a = manager.create(toFloats(t.dtype(), data, n), shape);
                return floatType == DataType.FLOAT32 ? a : convert(a, floatType);
            }
            case F64 -> {
                NDArray a = manager.create(toFloats(t.dtype(), data, n), shape);
                return floatType == DataType.FLOAT32 ? a : convert(a, floatType);
            }
            case I64 -> {
                return manager.create(direct(data), shape, DataType.INT64);
            }
            case I32 -> {
                return manager.create(direct(data), shape, DataType.INT32);
            }
            case I8 -> {
                return manager.create(direct(data), shape, DataType.INT8);
            }
            case U8 -> {
                return manager.create(direct(data), shape, DataType.UINT8);
            }
            case BOOL -> {
                return manager.create(direct(data), shape, DataType.BOOLEAN);
            }
            case I16 -> {
                float[] f = toFloats(t.dtype(), data, n);
                int[] ints = new int[n];
                for (int i = 0; i < n; i++) {
                    ints[i] = (int) f[i];
                }
                return manager.create(ints, shape);
            }
            default -> throw new IllegalStateException(t.dtype().toString());
        }
    }

    private static NDArray convert(NDArray a, DataType type) {
        NDArray c = a.toType(type, false);
        if (c != a) {
            a.close();
        }
        return c;
    }

    /** DJL copies from direct native-order buffers; a mapped slice is direct but needs its order set. */
    private static ByteBuffer direct(ByteBuffer data) {
        ByteBuffer b = data.duplicate().order(ByteOrder.nativeOrder());
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw new GlimpseException("big-endian platforms are not supported");
        }
        return b;
    }

    /** Encodes an NDArray as safetensors bytes of its own dtype. */
    static DType dtypeOf(DataType t) {
        return switch (t) {
            case FLOAT32 -> DType.F32;
            case FLOAT64 -> DType.F64;
            case FLOAT16 -> DType.F16;
            case INT64 -> DType.I64;
            case INT32 -> DType.I32;
            case INT8 -> DType.I8;
            case UINT8 -> DType.U8;
            case BOOLEAN -> DType.BOOL;
            default -> throw new GlimpseException("cannot store DJL data type " + t + " in safetensors");
        };
    }

    static ByteBuffer encodeFloats(DType dtype, float[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * dtype.bytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) {
            switch (dtype) {
                case F32 -> b.putFloat(v);
                case F64 -> b.putDouble(v);
                case F16 -> b.putShort(Half.floatToF16(v));
                case BF16 -> b.putShort(Half.floatToBf16(v));
                default -> throw new IllegalArgumentException("encodeFloats needs a floating dtype, not " + dtype);
            }
        }
        b.flip();
        return b;
    }
}
