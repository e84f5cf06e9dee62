package dev.glimpse.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every malformed header is rejected before data is read, with a message naming the file, tensor and rule. */
class MalformedHeaderTest {
    @TempDir
    static Path dir;

    /** A file with the given header bytes (length prefix computed) followed by {@code dataBytes} zero bytes. */
    static Path file(String name, byte[] header, long declaredLength, int dataBytes) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(declaredLength).put(header);
        Path p = dir.resolve(name + ".safetensors");
        Files.write(p, b.array());
        return p;
    }

    static Path file(String name, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return file(name, h, h.length, dataBytes);
    }

    static Stream<Arguments> cases() {
        String ok = "\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":";
        return Stream.of(
                Arguments.of("tooShort", (Maker) () -> {
                    Path p = dir.resolve("short.safetensors");
                    Files.write(p, new byte[] {1, 2, 3});
                    return p;
                }, "shorter than the 8-byte header length prefix"),
                Arguments.of("zeroLength", (Maker) () -> file("zero", new byte[0], 0, 0), "is not between 1 and"),
                Arguments.of("hugeLength", (Maker) () -> file("huge", new byte[] {'{', '}'}, 200L << 20, 0),
                        "is not between 1 and"),
                Arguments.of("negativeLength", (Maker) () -> file("neg", new byte[] {'{', '}'}, -5, 0),
                        "is not between 1 and"),
                Arguments.of("pastEnd", (Maker) () -> file("past", new byte[] {'{', '}'}, 1000, 0),
                        "runs past the end of the file"),
                Arguments.of("badUtf8", (Maker) () -> file("utf8", new byte[] {'{', '"', (byte) 0xff, '"', '}'}, 5, 0),
                        "not valid UTF-8"),
                Arguments.of("notJson", (Maker) () -> file("json", "{\"a\": [1,", 0), "not valid JSON"),
                Arguments.of("notObject", (Maker) () -> file("arr", "[1,2,3]", 0), "must be a JSON object"),
                Arguments.of("duplicateKey", (Maker) () -> file("dup",
                        "{\"a\":{" + ok + "[0,8]},\"a\":{" + ok + "[0,8]}}", 8), "Duplicate field"),
                Arguments.of("entryNotObject", (Maker) () -> file("entry", "{\"w\": 5}", 0),
                        "tensor 'w': entry must be an object"),
                Arguments.of("missingField", (Maker) () -> file("missing", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}",
                        8), "tensor 'w': entry is missing one of dtype, shape, data_offsets"),
                Arguments.of("unknownDtype", (Maker) () -> file("dtype",
                        "{\"w\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2),
                        "tensor 'w': unknown dtype \"F8_E4M3\""),
                Arguments.of("negativeDim", (Maker) () -> file("negdim",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8),
                        "tensor 'w': shape dimension 0 is -2"),
                Arguments.of("shapeOverflow", (Maker) () -> file("overflow",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8),
                        "tensor 'w': shape [4294967296,4294967296] overflows a 64-bit element count"),
                Arguments.of("byteOverflow", (Maker) () -> file("byteoverflow",
                        "{\"w\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,8]}}", 8),
                        "overflows a 64-bit byte count"),
                Arguments.of("sizeMismatch", (Maker) () -> file("size",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8),
                        "tensor 'w': data_offsets [0,8] hold 8 bytes but shape [3] of F32 needs 12"),
                Arguments.of("endBeforeBegin", (Maker) () -> file("order",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8), "end is before begin"),
                Arguments.of("negativeOffset", (Maker) () -> file("negoff",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8),
                        "must be non-negative 64-bit integers"),
                Arguments.of("outsideData", (Maker) () -> file("outside", "{\"w\":{" + ok + "[8,16]}}", 8),
                        "tensor 'w': data_offsets [8,16] run past the data section (8 bytes)"),
                Arguments.of("overlap", (Maker) () -> file("overlap",
                        "{\"a\":{" + ok + "[0,8]},\"b\":{" + ok + "[4,12]}}", 12), "overlaps tensor 'a'"),
                Arguments.of("badMetadata", (Maker) () -> file("meta", "{\"__metadata__\":{\"format\":1}}", 0),
                        "__metadata__ value for 'format' must be a string"),
                Arguments.of("offsetsNotPair", (Maker) () -> file("pair",
                        "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8),
                        "data_offsets must be [begin, end]"));
    }

    interface Maker {
        Path make() throws IOException;
    }

    static final Set<String> MESSAGES = new HashSet<>();

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void rejected(String name, Maker maker, String expected) throws IOException {
        Path p = maker.make();
        BadInputException e = assertThrows(BadInputException.class, () -> SafetensorsFile.open(p).close());
        assertTrue(e.getMessage().contains(expected), name + ": got '" + e.getMessage() + "'");
        assertTrue(e.getMessage().startsWith(p.toString()), "message names the file: " + e.getMessage());
        synchronized (MESSAGES) {
            assertTrue(MESSAGES.add(e.getMessage()), "each case has its own message: " + e.getMessage());
        }
    }

    @Test
    void atLeastTwelveCases() {
        assertTrue(cases().count() >= 12);
    }

    @Test
    void missingFileAndMissingTensorAreNamed() throws IOException {
        BadInputException e = assertThrows(BadInputException.class,
                () -> SafetensorsFile.open(dir.resolve("nope.safetensors")));
        assertTrue(e.getMessage().contains("nope.safetensors: no such safetensors file"));
        Path p = file("good", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertEquals(List.of("w"), f.tensors().stream().map(TensorInfo::name).toList());
            e = assertThrows(BadInputException.class, () -> f.info("v"));
            assertTrue(e.getMessage().contains("no tensor named 'v'"));
        }
    }
}
