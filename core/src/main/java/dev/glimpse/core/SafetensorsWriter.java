package dev.glimpse.core;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Collects tensors and writes them as one safetensors file, atomically. Tensors are written in the order added;
 * the header is padded with spaces to 8 bytes as the reference implementation does.
 *
 * <pre>{@code
 * new SafetensorsWriter().metadata("format", "pt").add("w", DType.F32, new long[] {2, 2}, values).write(path);
 * }</pre>
 */
public final class SafetensorsWriter {
    private record Entry(DType dtype, long[] shape, ByteBuffer data) {}

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private boolean checksum;

    /**
     * Records a SHA-256 of the file's contents (tensor layout, metadata and data) in the metadata under
     * {@link SafetensorsFile#CHECKSUM}, so that {@link SafetensorsFile#verify()} detects a truncated or bit-flipped
     * file. Other readers ignore it.
     */
    public SafetensorsWriter withChecksum() {
        this.checksum = true;
        return this;
    }

    public SafetensorsWriter metadata(String key, String value) {
        metadata.put(key, value);
        return this;
    }

    public SafetensorsWriter metadata(Map<String, String> values) {
        metadata.putAll(values);
        return this;
    }

    /** Adds raw little-endian bytes of the given dtype and shape. */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, ByteBuffer data) {
        if (name.equals("__metadata__")) {
            throw new IllegalArgumentException("'__metadata__' is reserved");
        }
        if (entries.containsKey(name)) {
            throw new IllegalArgumentException("tensor '" + name + "' added twice");
        }
        long numel = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("tensor '" + name + "': negative dimension");
            }
            numel = Math.multiplyExact(numel, d);
        }
        if (numel * dtype.bytes() != data.remaining()) {
            throw new IllegalArgumentException("tensor '" + name + "': " + data.remaining() + " bytes given, shape needs "
                    + numel * dtype.bytes());
        }
        entries.put(name, new Entry(dtype, shape.clone(), data.slice().order(ByteOrder.LITTLE_ENDIAN)));
        return this;
    }

    /** Adds float values, stored as {@code dtype} (F32, F64, F16 or BF16, rounded to nearest even). */
    public SafetensorsWriter add(String name, DType dtype, long[] shape, float[] values) {
        return add(name, dtype, shape, TensorCodec.encodeFloats(dtype, values));
    }

    /** Adds a DJL array with its own data type. */
    public SafetensorsWriter add(String name, NDArray array) {
        DType dtype = TensorCodec.dtypeOf(array.getDataType());
        ByteBuffer b = array.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        ByteBuffer copy = ByteBuffer.allocate(b.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        copy.put(b).flip();
        return add(name, dtype, array.getShape().getShape(), copy);
    }

    /** The tensors as the header will list them: name, dtype, shape, [begin, end) in the data section. */
    private java.util.List<TensorInfo> layout() {
        java.util.List<TensorInfo> out = new java.util.ArrayList<>();
        long offset = 0;
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            long n = e.getValue().data.remaining();
            out.add(new TensorInfo(e.getKey(), e.getValue().dtype, e.getValue().shape, offset, n));
            offset += n;
        }
        return out;
    }

    /** Writes the file atomically (temporary file, fsync, rename). */
    public void write(Path path) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        if (checksum) {
            java.security.MessageDigest d = SafetensorsFile.digest(metadata, layout());
            for (Entry e : entries.values()) {
                d.update(e.data.duplicate());
            }
            ObjectNode m = header.has("__metadata__") ? (ObjectNode) header.get("__metadata__")
                    : header.putObject("__metadata__");
            m.put(SafetensorsFile.CHECKSUM, java.util.HexFormat.of().formatHex(d.digest()));
        }
        long offset = 0;
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype.name());
            ArrayNode s = t.putArray("shape");
            for (long d : e.getValue().shape) {
                s.add(d);
            }
            long n = e.getValue().data.remaining();
            t.putArray("data_offsets").add(offset).add(offset + n);
            offset += n;
        }
        byte[] h = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer prefix = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        prefix.putLong(padded).put(h);
        while (prefix.hasRemaining()) {
            prefix.put((byte) ' ');
        }
        prefix.flip();
        AtomicFile.write(path, ch -> {
            while (prefix.hasRemaining()) {
                ch.write(prefix);
            }
            for (Entry e : entries.values()) {
                ByteBuffer d = e.data.duplicate();
                while (d.hasRemaining()) {
                    ch.write(d);
                }
            }
        });
    }
}
