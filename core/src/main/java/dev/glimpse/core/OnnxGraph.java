package dev.glimpse.core;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds an ONNX model (a serialized {@code onnx.ModelProto}) in Java: inputs and outputs with symbolic or fixed
 * dimensions, initializers, and nodes with attributes, from the standard domain or a contrib one
 * ({@code com.microsoft}). The protobuf wire format is written by hand, field numbers from onnx.proto (IR version 10, opset 21):
 * the handful of messages a model needs do not justify generating protobuf classes and adding protobuf-java.
 *
 * <pre>{@code
 * Models over protobuf's 2 GB limit keep their large initializers in an external data file
 * ({@link #externalData(Path)}), written as each initializer is added so that a graph never sits whole in memory.
 *
 * byte[] model = new OnnxGraph("linear").input("x", OnnxGraph.FLOAT, "batch", 4)
 *         .initializer("w", OnnxGraph.FLOAT, new long[] {4, 3}, weights)
 *         .node("MatMul", List.of("x", "w"), List.of("y")).output("y", OnnxGraph.FLOAT, "batch", 3).toBytes();
 * }</pre>
 */
public final class OnnxGraph implements AutoCloseable {
    /** TensorProto.DataType values. */
    public static final int FLOAT = 1;
    public static final int UINT8 = 2;
    public static final int INT8 = 3;
    public static final int INT32 = 6;
    public static final int INT64 = 7;
    public static final int FLOAT16 = 10;

    private static final long IR_VERSION = 10;
    private static final long OPSET = 21;
    private static final long MS_OPSET = 1;

    private final String name;
    private final List<byte[]> nodes = new ArrayList<>();
    private final List<byte[]> initializers = new ArrayList<>();
    private final List<byte[]> inputs = new ArrayList<>();
    private final List<byte[]> outputs = new ArrayList<>();
    private int nodeCount;
    private Path dataFile;
    private FileChannel data;
    private long dataLength;

    public OnnxGraph(String name) {
        this.name = name;
    }

    /**
     * Stores initializers of 1 KiB or more in {@code file} (ONNX external data, offsets aligned to 4 KiB), which
     * must sit in the folder the model file will be written to. Call before adding initializers.
     */
    public OnnxGraph externalData(Path file) {
        if (!initializers.isEmpty()) {
            throw new IllegalStateException("choose external data before adding initializers");
        }
        try {
            data = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write ONNX external data " + file, e);
        }
        dataFile = file;
        return this;
    }

    /** Bytes written to the external data file so far. */
    public long externalBytes() {
        return dataLength;
    }

    /** A graph input; each dimension is a Long (fixed) or a String (symbolic, e.g. "batch"). */
    public OnnxGraph input(String valueName, int elemType, Object... dims) {
        inputs.add(valueInfo(valueName, elemType, dims));
        return this;
    }

    /** A graph output; dimensions as for {@link #input}. */
    public OnnxGraph output(String valueName, int elemType, Object... dims) {
        outputs.add(valueInfo(valueName, elemType, dims));
        return this;
    }

    /** A constant tensor of float values stored as {@code elemType} (FLOAT or FLOAT16). */
    public OnnxGraph initializer(String tensorName, int elemType, long[] dims, float[] values) {
        DType t = switch (elemType) {
            case FLOAT -> DType.F32;
            case FLOAT16 -> DType.F16;
            default -> throw new IllegalArgumentException("float values can be stored as FLOAT or FLOAT16, not "
                    + elemType);
        };
        ByteBuffer b = TensorCodec.encodeFloats(t, values);
        byte[] raw = new byte[b.remaining()];
        b.get(raw);
        return initializer(tensorName, elemType, dims, raw);
    }

    /** A constant tensor of int64 values (shapes, axes, indices). */
    public OnnxGraph initializer(String tensorName, long[] dims, long[] values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : values) {
            b.putLong(v);
        }
        return initializer(tensorName, INT64, dims, b.array());
    }

    /** A constant tensor from its little-endian raw bytes. */
    public OnnxGraph initializer(String tensorName, int elemType, long[] dims, byte[] raw) {
        return initializer(tensorName, elemType, dims, ByteBuffer.wrap(raw));
    }

    /** A constant tensor from the remaining little-endian bytes of {@code raw}. */
    public OnnxGraph initializer(String tensorName, int elemType, long[] dims, ByteBuffer raw) {
        Proto t = new Proto();
        for (long d : dims) {
            t.varintField(1, d);
        }
        t.varintField(2, elemType);
        t.stringField(8, tensorName);
        if (data != null && raw.remaining() >= 1024) {
            try {
                long offset = (dataLength + 4095) & ~4095L;
                long length = raw.remaining();
                data.position(offset);
                while (raw.hasRemaining()) {
                    data.write(raw);
                }
                dataLength = offset + length;
                t.bytesField(13, entry("location", dataFile.getFileName().toString()));
                t.bytesField(13, entry("offset", Long.toString(offset)));
                t.bytesField(13, entry("length", Long.toString(length)));
                t.varintField(14, 1); // DataLocation.EXTERNAL
            } catch (IOException e) {
                throw new UncheckedIOException("cannot write ONNX external data " + dataFile, e);
            }
        } else {
            byte[] b = new byte[raw.remaining()];
            raw.get(b);
            t.bytesField(9, b);
        }
        initializers.add(t.bytes());
        return this;
    }

    private static byte[] entry(String key, String value) {
        return new Proto().stringField(1, key).stringField(2, value).bytes();
    }

    /**
     * Writes the model to {@code file} (beside its external data, if any), both flushed to disk; closes the data
     * file.
     */
    public void writeTo(Path file) {
        byte[] model = toBytes();
        try {
            if (data != null) {
                data.force(true);
                data.close();
                data = null;
            }
            try (OutputStream out = Files.newOutputStream(file)) {
                out.write(model);
            }
            try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write ONNX model " + file, e);
        }
    }

    /** A node of the standard domain. */
    public OnnxGraph node(String opType, List<String> in, List<String> out, Attribute... attributes) {
        return node("", opType, in, out, attributes);
    }

    /** A node of {@code domain} ("" for the standard one, "com.microsoft" for ONNX Runtime's contrib ops). */
    public OnnxGraph node(String domain, String opType, List<String> in, List<String> out, Attribute... attributes) {
        Proto n = new Proto();
        for (String s : in) {
            n.stringField(1, s);
        }
        for (String s : out) {
            n.stringField(2, s);
        }
        n.stringField(3, opType + "_" + nodeCount++);
        n.stringField(4, opType);
        for (Attribute a : attributes) {
            n.bytesField(5, a.encoded);
        }
        if (!domain.isEmpty()) {
            n.stringField(7, domain);
        }
        nodes.add(n.bytes());
        return this;
    }

    /** Closes the external data file if {@link #writeTo} has not (e.g. when a build fails half way). */
    @Override
    public void close() {
        if (data != null) {
            try {
                data.close();
            } catch (IOException ignored) {
                // the build is abandoned; its folder is deleted by the caller
            }
            data = null;
        }
    }

    /** The serialized ModelProto. */
    public byte[] toBytes() {
        Proto g = new Proto();
        for (byte[] n : nodes) {
            g.bytesField(1, n);
        }
        g.stringField(2, name);
        for (byte[] t : initializers) {
            g.bytesField(5, t);
        }
        for (byte[] v : inputs) {
            g.bytesField(11, v);
        }
        for (byte[] v : outputs) {
            g.bytesField(12, v);
        }
        Proto m = new Proto();
        m.varintField(1, IR_VERSION);
        m.stringField(2, "glimpse");
        m.bytesField(7, g.bytes());
        m.bytesField(8, new Proto().stringField(1, "").varintField(2, OPSET).bytes());
        m.bytesField(8, new Proto().stringField(1, "com.microsoft").varintField(2, MS_OPSET).bytes());
        return m.bytes();
    }

    private static byte[] valueInfo(String valueName, int elemType, Object... dims) {
        Proto shape = new Proto();
        for (Object d : dims) {
            Proto dim = new Proto();
            if (d instanceof Number n) {
                dim.varintField(1, n.longValue());
            } else if (d instanceof String s) {
                dim.stringField(2, s);
            } else {
                throw new IllegalArgumentException("a dimension is a number or a name, not " + d);
            }
            shape.bytesField(1, dim.bytes());
        }
        Proto tensor = new Proto().varintField(1, elemType).bytesField(2, shape.bytes());
        Proto type = new Proto().bytesField(1, tensor.bytes());
        return new Proto().stringField(1, valueName).bytesField(2, type.bytes()).bytes();
    }

    /** A node attribute (AttributeProto). */
    public static final class Attribute {
        final byte[] encoded;

        private Attribute(byte[] encoded) {
            this.encoded = encoded;
        }

        public static Attribute of(String name, long value) {
            return new Attribute(new Proto().stringField(1, name).varintField(3, value).varintField(20, 2).bytes());
        }

        public static Attribute of(String name, float value) {
            return new Attribute(new Proto().stringField(1, name).fixed32Field(2, Float.floatToIntBits(value))
                    .varintField(20, 1).bytes());
        }

        public static Attribute of(String name, String value) {
            return new Attribute(new Proto().stringField(1, name).bytesField(4, value.getBytes(StandardCharsets.UTF_8))
                    .varintField(20, 3).bytes());
        }

        public static Attribute ints(String name, long... values) {
            Proto p = new Proto().stringField(1, name);
            for (long v : values) {
                p.varintField(8, v);
            }
            return new Attribute(p.varintField(20, 7).bytes());
        }
    }

    /** Protobuf wire format: varints, fixed32 and length-delimited fields, in field order as written. */
    static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Proto varintField(int field, long value) {
            varint((long) field << 3);
            varint(value);
            return this;
        }

        Proto fixed32Field(int field, int bits) {
            varint(((long) field << 3) | 5);
            for (int i = 0; i < 4; i++) {
                out.write((bits >>> (8 * i)) & 0xff);
            }
            return this;
        }

        Proto stringField(int field, String s) {
            return bytesField(field, s.getBytes(StandardCharsets.UTF_8));
        }

        Proto bytesField(int field, byte[] b) {
            varint(((long) field << 3) | 2);
            varint(b.length);
            out.write(b, 0, b.length);
            return this;
        }

        /** Negative values take ten bytes, as protobuf encodes int64. */
        private void varint(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
