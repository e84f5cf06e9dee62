package dev.glimpse.core;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
    @TempDir
    Path dir;

    @Test
    void everySharedFixtureReadsAndMatchesItsStateDictKeys() throws Exception {
        List<Path> files;
        try (Stream<Path> s = Files.walk(TestData.root().resolve("hf"))) {
            files = s.filter(p -> p.toString().endsWith(".safetensors")).sorted().toList();
        }
        assertTrue(files.size() >= 9, "fixtures found: " + files);
        for (Path p : files) {
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                assertTrue(!f.tensors().isEmpty(), p.toString());
                for (TensorInfo t : f.tensors()) {
                    float[] v = f.toFloats(t.name());
                    assertEquals(t.numel(), v.length);
                }
            }
            Path ref = p.resolveSibling("reference.json");
            if (p.getFileName().toString().equals("model.safetensors") && Files.isRegularFile(ref)) {
                JsonNode keys = new ObjectMapper().readTree(ref.toFile()).get("state_dict_keys");
                List<String> expected = new ArrayList<>();
                keys.forEach(k -> expected.add(k.asText()));
                try (Checkpoint c = Checkpoint.open(p.getParent())) {
                    if (p.getParent().getFileName().toString().equals("tiny-llava")) {
                        // saved in the llava-hf layout, while reference.json lists transformers-5 module names
                        assertEquals(expected.size() - 1, c.tensors().size(), "all but the tied lm_head");
                        assertTrue(c.contains("multi_modal_projector.linear_1.weight"));
                        continue;
                    }
                    List<String> got = c.tensors().stream().map(TensorInfo::name).sorted().toList();
                    // tied weights are saved once: lm_head.weight may be absent from the file
                    List<String> want = expected.stream().filter(c::contains).sorted().toList();
                    assertEquals(want, got, p.toString());
                    assertTrue(expected.size() - want.size() <= 1, p + " misses " + expected);
                }
            }
        }
        try (Checkpoint c = Checkpoint.open(TestData.model("stories260k"))) {
            long params = c.tensors().stream().mapToLong(TensorInfo::numel).sum();
            assertEquals(260_032, params);
            assertEquals("pt", c.metadata().get("format"));
        }
    }

    @Test
    void shardedCheckpointThroughIndex() throws Exception {
        new SafetensorsWriter().add("a.weight", DType.F32, new long[] {2}, new float[] {1, 2})
                .write(dir.resolve("model-00001-of-00002.safetensors"));
        new SafetensorsWriter().add("b.weight", DType.BF16, new long[] {3}, new float[] {3, 4, 5})
                .add("c.bias", DType.F16, new long[] {1}, new float[] {6})
                .write(dir.resolve("model-00002-of-00002.safetensors"));
        String index = "{\"metadata\":{\"total_size\":16},\"weight_map\":{\"a.weight\":\"model-00001-of-00002.safetensors\","
                + "\"b.weight\":\"model-00002-of-00002.safetensors\",\"c.bias\":\"model-00002-of-00002.safetensors\"}}";
        Files.writeString(dir.resolve(Checkpoint.INDEX), index);
        try (Checkpoint c = Checkpoint.open(dir)) {
            assertEquals(3, c.tensors().size());
            assertArrayEquals(new float[] {3, 4, 5}, c.toFloats("b.weight"));
            assertArrayEquals(new float[] {6}, c.toFloats("c.bias"));
            assertArrayEquals(new float[] {1, 2}, c.toFloats("a.weight"));
            BadInputException e = assertThrows(BadInputException.class, () -> c.toFloats("d"));
            assertTrue(e.getMessage().contains("missing tensor 'd'"));
        }
        // an index naming a shard that is not there
        Files.writeString(dir.resolve(Checkpoint.INDEX), index.replace("00001-of", "00003-of"));
        BadInputException e = assertThrows(BadInputException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("shard 'model-00003-of-00002.safetensors' named in weight_map is missing"),
                e.getMessage());
        // an index that puts a tensor in the wrong shard
        Files.writeString(dir.resolve(Checkpoint.INDEX), index.replace("\"c.bias\":\"model-00002", "\"c.bias\":\"model-00001"));
        e = assertThrows(BadInputException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("weight_map says 'c.bias' is in model-00001"), e.getMessage());
    }

    @Test
    void sparseFileLargerThan2GiBWithATensorPastTheMark() throws Exception {
        long pastMark = (1L << 31) + 4096; // data offset of the second tensor, beyond 2 GiB
        String header = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[" + pastMark + "],\"data_offsets\":[0," + pastMark + "]},"
                + "\"far\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[" + pastMark + "," + (pastMark + 16) + "]}}";
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        Path p = dir.resolve("big.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
            ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
            raf.write(prefix.array());
            raf.write(h);
            long dataStart = 8 + h.length;
            raf.setLength(dataStart + pastMark + 16); // sparse: the 2 GiB pad takes no disk
            raf.seek(dataStart + pastMark);
            ByteBuffer v = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
            v.putFloat(1.5f).putFloat(-2f).putFloat(3.25f).putFloat(1e-7f);
            raf.write(v.array());
        }
        assertTrue(Files.size(p) > (1L << 31));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertTrue(f.info("far").offset() > (1L << 31));
            assertArrayEquals(new float[] {1.5f, -2f, 3.25f, 1e-7f}, f.toFloats("far"));
            assertEquals(pastMark, f.info("pad").byteLength());
        }
    }

    @Test
    void directoryWithoutWeightsIsNamed() {
        BadInputException e = assertThrows(BadInputException.class, () -> Checkpoint.open(dir));
        assertTrue(e.getMessage().contains("no model.safetensors or model.safetensors.index.json"));
    }

    @Test
    void weightsMustBeFloatingAndShapedAsTheConfigSays() {
        new SafetensorsWriter().add("w", DType.I32, new long[] {2}, java.nio.ByteBuffer.allocate(8))
                .add("f", DType.F32, new long[] {2, 3}, new float[6]).write(dir.resolve(Checkpoint.SINGLE));
        try (Checkpoint c = Checkpoint.open(dir); var m = GlimpseEngine.newCpuManager()) {
            BadInputException e = assertThrows(BadInputException.class,
                    () -> c.load(m, "w", ai.djl.ndarray.types.DataType.FLOAT32, 2));
            assertTrue(e.getMessage().contains("tensor 'w' is I32, expected a floating-point weight"), e.getMessage());
            e = assertThrows(BadInputException.class, () -> c.load(m, "f", ai.djl.ndarray.types.DataType.FLOAT32, 3, 2));
            assertTrue(e.getMessage().contains("tensor 'f' has shape [2, 3], expected [3, 2] from config.json"),
                    e.getMessage());
        }
    }
}
