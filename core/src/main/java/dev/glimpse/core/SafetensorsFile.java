package dev.glimpse.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A safetensors file opened for reading. The header is validated completely before any tensor data is touched;
 * each tensor's bytes are memory-mapped on demand, so files far larger than 2 GiB work as long as one tensor fits
 * in one mapping (2 GiB).
 *
 * <p>Thread-safe for reading: each tensor is mapped (or read at its position) independently of other readers;
 * close the file once all readers are done.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Headers larger than this are refused: real ones are a few MiB at most. */
    public static final long MAX_HEADER_BYTES = 100L << 20;
    /** The metadata key of Glimpse's whole-file SHA-256 (see {@link SafetensorsWriter#withChecksum()}). */
    public static final String CHECKSUM = "glimpse_sha256";

    private static final ObjectMapper JSON =
            new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION);

    private final Path path;
    private final FileChannel channel;
    private final Map<String, TensorInfo> tensors;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, FileChannel channel, Map<String, TensorInfo> tensors,
                            Map<String, String> metadata) {
        this.path = path;
        this.channel = channel;
        this.tensors = tensors;
        this.metadata = metadata;
    }

    /** Opens and validates {@code path}; throws {@link BadInputException} naming the file, tensor and rule. */
    public static SafetensorsFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new BadInputException(path + ": no such safetensors file");
        } catch (IOException e) {
            throw new BadInputException(path + ": cannot open: " + e.getMessage(), e);
        }
        try {
            Header h = readHeader(path, ch);
            return new SafetensorsFile(path, ch, h.tensors, h.metadata);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private record Header(Map<String, TensorInfo> tensors, Map<String, String> metadata) {}

    private static Header readHeader(Path path, FileChannel ch) {
        long fileSize;
        try {
            fileSize = ch.size();
            if (fileSize < 8) {
                throw bad(path, null, "file is " + fileSize + " bytes, shorter than the 8-byte header length prefix");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long headerLen = lenBuf.getLong(0);
            if (headerLen <= 0 || headerLen > MAX_HEADER_BYTES) {
                throw bad(path, null, "header length " + Long.toUnsignedString(headerLen)
                        + " is not between 1 and " + MAX_HEADER_BYTES + " bytes");
            }
            if (8 + headerLen > fileSize) {
                throw bad(path, null, "header length " + headerLen + " runs past the end of the file ("
                        + fileSize + " bytes)");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
            readFully(ch, hb, 8);
            hb.flip();
            String text;
            try {
                CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                        .onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT)
                        .decode(hb);
                text = chars.toString();
            } catch (CharacterCodingException e) {
                throw bad(path, null, "header is not valid UTF-8");
            }
            JsonNode root;
            try {
                // the header is one JSON object padded with spaces: anything after it is damage, not padding
                root = JSON.readerFor(JsonNode.class)
                        .with(com.fasterxml.jackson.databind.DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
                        .readValue(text);
            } catch (IOException e) {
                throw bad(path, null, "header is not valid JSON: " + firstLine(e.getMessage()));
            }
            if (root == null || !root.isObject()) {
                throw bad(path, null, "header must be a JSON object of tensor entries");
            }
            return parseEntries(path, (ObjectNode) root, fileSize - 8 - headerLen, 8 + headerLen);
        } catch (IOException e) {
            throw new BadInputException(path + ": cannot read: " + e.getMessage(), e);
        }
    }

    private static Header parseEntries(Path path, ObjectNode root, long dataLen, long dataStart) {
        Map<String, TensorInfo> tensors = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().equals("__metadata__")) {
                metadata.putAll(metadata(path, e.getValue()));
            } else {
                tensors.put(e.getKey(), entry(path, e.getKey(), e.getValue(), dataLen, dataStart));
            }
        }
        checkNoOverlap(path, tensors.values(), dataStart);
        return new Header(Collections.unmodifiableMap(tensors), Collections.unmodifiableMap(metadata));
    }

    /** {@code __metadata__}: an object of string values. */
    private static Map<String, String> metadata(Path path, JsonNode v) {
        if (!v.isObject()) {
            throw bad(path, "__metadata__", "__metadata__ must be an object of string values");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> m = v.fields(); m.hasNext(); ) {
            Map.Entry<String, JsonNode> kv = m.next();
            if (!kv.getValue().isTextual()) {
                throw bad(path, "__metadata__", "__metadata__ value for '" + kv.getKey() + "' must be a string");
            }
            out.put(kv.getKey(), kv.getValue().asText());
        }
        return out;
    }

    /** One tensor's entry: a known dtype, a shape whose bytes match its data_offsets, inside the data section. */
    private static TensorInfo entry(Path path, String name, JsonNode v, long dataLen, long dataStart) {
        if (!v.isObject()) {
            throw bad(path, name, "entry must be an object with dtype, shape and data_offsets");
        }
        JsonNode dt = v.get("dtype");
        JsonNode shapeNode = v.get("shape");
        JsonNode offs = v.get("data_offsets");
        if (dt == null || shapeNode == null || offs == null) {
            throw bad(path, name, "entry is missing one of dtype, shape, data_offsets");
        }
        DType dtype = dt.isTextual() ? DType.parse(dt.asText()) : null;
        if (dtype == null) {
            throw bad(path, name, "unknown dtype " + dt + " (expected one of F64, F32, F16, BF16, I64, I32, I16,"
                    + " I8, U8, BOOL)");
        }
        long[] shape = shape(path, name, shapeNode);
        long expectBytes;
        try {
            expectBytes = Math.multiplyExact(numel(path, name, shapeNode, shape), (long) dtype.bytes());
        } catch (ArithmeticException ex) {
            throw bad(path, name, "shape " + shapeNode + " x " + dtype + " overflows a 64-bit byte count");
        }
        long[] range = offsets(path, name, offs);
        if (range[1] - range[0] != expectBytes) {
            throw bad(path, name, "data_offsets " + offs + " hold " + (range[1] - range[0]) + " bytes but shape "
                    + shapeNode + " of " + dtype + " needs " + expectBytes);
        }
        if (range[1] > dataLen) {
            throw bad(path, name, "data_offsets " + offs + " run past the data section (" + dataLen + " bytes)");
        }
        return new TensorInfo(name, dtype, shape, dataStart + range[0], range[1] - range[0]);
    }

    private static long[] shape(Path path, String name, JsonNode shapeNode) {
        if (!shapeNode.isArray()) {
            throw bad(path, name, "shape must be an array of non-negative integers");
        }
        long[] shape = new long[shapeNode.size()];
        for (int i = 0; i < shape.length; i++) {
            JsonNode d = shapeNode.get(i);
            if (!d.isIntegralNumber() || !d.canConvertToLong() || d.asLong() < 0) {
                throw bad(path, name, "shape dimension " + i + " is " + d + ", expected a non-negative integer");
            }
            shape[i] = d.asLong();
        }
        return shape;
    }

    private static long numel(Path path, String name, JsonNode shapeNode, long[] shape) {
        long numel = 1;
        try {
            for (long d : shape) {
                numel = Math.multiplyExact(numel, d);
            }
        } catch (ArithmeticException ex) {
            throw bad(path, name, "shape " + shapeNode + " overflows a 64-bit element count");
        }
        return numel;
    }

    /** [begin, end) of data_offsets: non-negative and ordered. */
    private static long[] offsets(Path path, String name, JsonNode offs) {
        if (!offs.isArray() || offs.size() != 2) {
            throw bad(path, name, "data_offsets must be [begin, end]");
        }
        for (JsonNode o : offs) {
            if (!o.isIntegralNumber() || !o.canConvertToLong() || o.asLong() < 0) {
                throw bad(path, name, "data_offsets " + offs + " must be non-negative 64-bit integers");
            }
        }
        long begin = offs.get(0).asLong();
        long end = offs.get(1).asLong();
        if (end < begin) {
            throw bad(path, name, "data_offsets " + offs + ": end is before begin");
        }
        return new long[] {begin, end};
    }

    /** No two tensors' non-empty data ranges overlap. */
    private static void checkNoOverlap(Path path, java.util.Collection<TensorInfo> tensors, long dataStart) {
        List<TensorInfo> byStart = new ArrayList<>(tensors);
        byStart.sort(Comparator.comparingLong(TensorInfo::offset).thenComparingLong(TensorInfo::byteLength));
        for (int i = 1; i < byStart.size(); i++) {
            TensorInfo prev = byStart.get(i - 1);
            TensorInfo cur = byStart.get(i);
            if (cur.offset() < prev.offset() + prev.byteLength() && cur.byteLength() > 0) {
                throw bad(path, cur.name(), "data range [" + (cur.offset() - dataStart) + ", "
                        + (cur.offset() - dataStart + cur.byteLength()) + ") overlaps tensor '" + prev.name() + "' ["
                        + (prev.offset() - dataStart) + ", " + (prev.offset() - dataStart + prev.byteLength()) + ")");
            }
        }
    }

    private static BadInputException bad(Path path, String tensor, String rule) {
        return new BadInputException(path + (tensor == null ? "" : ": tensor '" + tensor + "'") + ": " + rule);
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
        while (buf.hasRemaining()) {
            int n = ch.read(buf, pos + buf.position());
            if (n < 0) {
                throw new IOException("unexpected end of file");
            }
        }
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // nothing more to do: the file was only read
        }
    }

    public Path path() {
        return path;
    }

    /** The header's {@code __metadata__} map (empty when absent). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** All tensors, in header order. */
    public List<TensorInfo> tensors() {
        return List.copyOf(tensors.values());
    }

    public boolean contains(String name) {
        return tensors.containsKey(name);
    }

    public TensorInfo info(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) {
            throw new BadInputException(path + ": no tensor named '" + name + "'");
        }
        return t;
    }

    /** Whether the file carries Glimpse's checksum. */
    public boolean hasChecksum() {
        return metadata.containsKey(CHECKSUM);
    }

    /**
     * Checks the file against its recorded SHA-256 (layout, metadata and every data byte); a file without one passes.
     *
     * @throws BadInputException when the contents differ from what was written (bit flips, a torn copy)
     */
    public SafetensorsFile verify() {
        return verify(false);
    }

    /**
     * As {@link #verify()}; with {@code required}, a file without a checksum is refused too (for files that are always
     * written with one, where a missing checksum means damage to its own key).
     */
    public SafetensorsFile verify(boolean required) {
        String expected = metadata.get(CHECKSUM);
        if (expected == null) {
            if (required) {
                throw new BadInputException(path + ": has no " + CHECKSUM + " in its metadata, which files of this kind"
                        + " always carry (the file is damaged or was not written by Glimpse)");
            }
            return this;
        }
        List<TensorInfo> byOffset = new ArrayList<>(tensors.values());
        byOffset.sort(java.util.Comparator.comparingLong(TensorInfo::offset));
        long base = byOffset.isEmpty() ? 0 : byOffset.get(0).offset();
        List<TensorInfo> relative = new ArrayList<>();
        for (TensorInfo t : byOffset) {
            relative.add(new TensorInfo(t.name(), t.dtype(), t.shape(), t.offset() - base, t.byteLength()));
        }
        java.security.MessageDigest d = digest(metadata, relative);
        ByteBuffer buf = ByteBuffer.allocate(1 << 20);
        try {
            for (TensorInfo t : byOffset) {
                long pos = t.offset();
                long end = t.offset() + t.byteLength();
                while (pos < end) {
                    buf.clear().limit((int) Math.min(buf.capacity(), end - pos));
                    int n = channel.read(buf, pos);
                    if (n < 0) {
                        throw new BadInputException(path + ": ends inside tensor '" + t.name() + "' (a torn file)");
                    }
                    buf.flip();
                    d.update(buf);
                    pos += n;
                }
            }
        } catch (IOException e) {
            throw new BadInputException(path + ": cannot read: " + e.getMessage(), e);
        }
        String actual = java.util.HexFormat.of().formatHex(d.digest());
        if (!actual.equals(expected)) {
            throw new BadInputException(path + ": contents do not match the SHA-256 recorded when it was written"
                    + " (the file is corrupted or was changed)");
        }
        return this;
    }

    /** SHA-256 seeded with the layout and metadata (the checksum key itself left out), ready for the data bytes. */
    static java.security.MessageDigest digest(Map<String, String> metadata, List<TensorInfo> layout) {
        java.security.MessageDigest d;
        try {
            d = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
        StringBuilder sb = new StringBuilder("glimpse-safetensors-checksum/1\n");
        for (TensorInfo t : layout) {
            sb.append(t.name()).append('\0').append(t.dtype().name()).append('\0')
                    .append(java.util.Arrays.toString(t.shape())).append('\0').append(t.offset()).append('\0')
                    .append(t.byteLength()).append('\n');
        }
        new java.util.TreeMap<>(metadata).forEach((k, v) -> {
            if (!k.equals(CHECKSUM)) {
                sb.append(k).append('\0').append(v).append('\n');
            }
        });
        d.update(sb.toString().getBytes(StandardCharsets.UTF_8));
        return d;
    }

    /** The tensor's raw bytes, memory-mapped, little-endian, read-only. */
    public ByteBuffer data(String name) {
        TensorInfo t = info(name);
        if (t.byteLength() > Integer.MAX_VALUE) {
            throw new BadInputException(path + ": tensor '" + name + "' is " + t.byteLength()
                    + " bytes, larger than one 2 GiB mapping");
        }
        try {
            return channel.map(FileChannel.MapMode.READ_ONLY, t.offset(), t.byteLength())
                    .order(ByteOrder.LITTLE_ENDIAN);
        } catch (IOException e) {
            throw new GlimpseException(path + ": cannot map tensor '" + name + "': " + e.getMessage(), e);
        }
    }

    /** The tensor's values widened to float (floating and integer dtypes alike). */
    public float[] toFloats(String name) {
        TensorInfo t = info(name);
        if (t.numel() > Integer.MAX_VALUE - 8) {
            throw new BadInputException(path + ": tensor '" + name + "' has too many elements for a Java array");
        }
        return TensorCodec.toFloats(t.dtype(), data(name), (int) t.numel());
    }

    /**
     * Loads the tensor into {@code manager}. Floating tensors become {@code floatType} (FLOAT32, FLOAT16, or
     * BFLOAT16 with Glimpse's JNI: see {@link Precision}); integer and bool tensors keep their type.
     */
    public NDArray toNDArray(NDManager manager, String name, DataType floatType) {
        return TensorCodec.toNDArray(manager, info(name), data(name), floatType);
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }
}
