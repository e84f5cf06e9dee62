package dev.glimpse.core;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Writes a safetensors file tensor by tensor: the header first (every name, dtype and shape is known up front), then
 * each tensor's values, asked for only when its turn comes, so a shard of a large model never sits in memory whole
 * (which {@link SafetensorsWriter} needs). Floating-point values are stored as the entry's dtype, rounded to nearest
 * even. The caller makes the write atomic (e.g. by writing into a folder moved into place at the end).
 */
public final class SafetensorsStream {
    /** One tensor to write: its values come from {@code values} when it is written. */
    public record Entry(String name, DType dtype, long[] shape, Supplier<float[]> values) {
        public Entry {
            if (!dtype.isFloating()) {
                throw new IllegalArgumentException(name + ": only floating-point tensors are streamed, not " + dtype);
            }
        }

        /** Bytes the tensor takes. */
        public long bytes() {
            long n = dtype.bytes();
            for (long d : shape) {
                n = Math.multiplyExact(n, d);
            }
            return n;
        }
    }

    private SafetensorsStream() {}

    /** Writes {@code entries}, in order, with {@code metadata}, to {@code file}. */
    public static void write(Path file, Map<String, String> metadata, List<Entry> entries) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = header.putObject("__metadata__");
            metadata.forEach(m::put);
        }
        long offset = 0;
        for (Entry e : entries) {
            ObjectNode t = header.putObject(e.name());
            t.put("dtype", e.dtype().name());
            t.putArray("shape").addAll(java.util.Arrays.stream(e.shape()).mapToObj(json.getNodeFactory()::numberNode)
                    .toList());
            t.putArray("data_offsets").add(offset).add(offset + e.bytes());
            offset += e.bytes();
        }
        byte[] h = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8; // the data section starts 8-aligned, as safetensors' writer pads
        ByteBuffer start = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        start.putLong(padded).put(h);
        while (start.hasRemaining()) {
            start.put((byte) ' ');
        }
        start.flip();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            writeFully(ch, start);
            for (Entry e : entries) {
                float[] v = e.values().get();
                if (v.length * (long) e.dtype().bytes() != e.bytes()) {
                    throw new IllegalStateException(e.name() + ": " + v.length + " values for shape "
                            + java.util.Arrays.toString(e.shape()));
                }
                writeFully(ch, TensorCodec.encodeFloats(e.dtype(), v));
            }
            ch.force(true);
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }
}
