package dev.glimpse.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The weights of one model: a single safetensors file, a directory with {@code model.safetensors}, or a sharded
 * checkpoint described by {@code model.safetensors.index.json}. Tensors are looked up by name across shards.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String SINGLE = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private final Path location;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> byName;

    private Checkpoint(Path location, List<SafetensorsFile> files, Map<String, SafetensorsFile> byName) {
        this.location = location;
        this.files = files;
        this.byName = byName;
    }

    /** Whether {@code dir} holds weights this class can open. */
    public static boolean existsIn(Path dir) {
        return Files.isRegularFile(dir.resolve(SINGLE)) || Files.isRegularFile(dir.resolve(INDEX));
    }

    public static Checkpoint open(Path location) {
        if (Files.isRegularFile(location)) {
            if (location.getFileName().toString().endsWith(".json")) {
                return openIndex(location);
            }
            SafetensorsFile f = SafetensorsFile.open(location);
            return fromFiles(location, List.of(f));
        }
        if (!Files.isDirectory(location)) {
            throw new BadInputException(location + ": no such file or directory");
        }
        if (Files.isRegularFile(location.resolve(INDEX))) {
            return openIndex(location.resolve(INDEX));
        }
        if (Files.isRegularFile(location.resolve(SINGLE))) {
            return fromFiles(location, List.of(SafetensorsFile.open(location.resolve(SINGLE))));
        }
        throw new BadInputException(location + ": no " + SINGLE + " or " + INDEX
                + " (Glimpse reads safetensors checkpoints; convert .bin/.pt files with save_pretrained first)");
    }

    private static Checkpoint fromFiles(Path location, List<SafetensorsFile> files) {
        Map<String, SafetensorsFile> byName = new LinkedHashMap<>();
        for (SafetensorsFile f : files) {
            for (TensorInfo t : f.tensors()) {
                SafetensorsFile prev = byName.put(t.name(), f);
                if (prev != null) {
                    files.forEach(SafetensorsFile::close);
                    throw new BadInputException(location + ": tensor '" + t.name() + "' appears in both "
                            + prev.path().getFileName() + " and " + f.path().getFileName());
                }
            }
        }
        return new Checkpoint(location, files, byName);
    }

    private static Checkpoint openIndex(Path index) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(index.toFile());
        } catch (IOException e) {
            throw new BadInputException(index + ": not valid JSON: " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new BadInputException(index + ": missing object 'weight_map' (tensor name -> shard file)");
        }
        Path dir = index.toAbsolutePath().getParent();
        TreeSet<String> shardNames = new TreeSet<>();
        map.fields().forEachRemaining(e -> {
            if (!e.getValue().isTextual() || e.getValue().asText().contains("/") || e.getValue().asText().contains("\\")) {
                throw new BadInputException(index + ": weight_map['" + e.getKey() + "'] must be a shard file name");
            }
            shardNames.add(e.getValue().asText());
        });
        List<SafetensorsFile> files = new ArrayList<>();
        Map<String, SafetensorsFile> byShard = new LinkedHashMap<>();
        try {
            for (String s : shardNames) {
                Path p = dir.resolve(s);
                if (!Files.isRegularFile(p)) {
                    throw new BadInputException(index + ": shard '" + s + "' named in weight_map is missing");
                }
                SafetensorsFile f = SafetensorsFile.open(p);
                files.add(f);
                byShard.put(s, f);
            }
            Checkpoint c = fromFiles(index, files);
            map.fields().forEachRemaining(e -> {
                SafetensorsFile f = c.byName.get(e.getKey());
                if (f == null || !f.path().getFileName().toString().equals(e.getValue().asText())) {
                    throw new BadInputException(index + ": weight_map says '" + e.getKey() + "' is in "
                            + e.getValue().asText() + " but that shard does not hold it");
                }
            });
            return c;
        } catch (RuntimeException e) {
            files.forEach(SafetensorsFile::close);
            throw e;
        }
    }

    public Path location() {
        return location;
    }

    /** All tensors of all shards. */
    public List<TensorInfo> tensors() {
        List<TensorInfo> out = new ArrayList<>();
        for (SafetensorsFile f : files) {
            out.addAll(f.tensors());
        }
        return out;
    }

    /** Metadata of the first shard (shards of one checkpoint carry the same). */
    public Map<String, String> metadata() {
        return files.isEmpty() ? Map.of() : files.get(0).metadata();
    }

    /**
     * The key prefix under which a part of a bigger checkpoint sits, found by one of its tensors' name endings
     * ({@code embed_tokens.weight} gives {@code model.language_model.}, …), or empty when no tensor ends so.
     */
    public java.util.Optional<String> prefixOf(String suffix) {
        for (TensorInfo t : tensors()) {
            if (t.name().endsWith(suffix)) {
                return java.util.Optional.of(t.name().substring(0, t.name().length() - suffix.length()));
            }
        }
        return java.util.Optional.empty();
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    public TensorInfo info(String name) {
        return file(name).info(name);
    }

    public float[] toFloats(String name) {
        return file(name).toFloats(name);
    }

    /** Loads tensor {@code name}, checking its shape against {@code expectedShape} (null skips the check). */
    public NDArray load(NDManager manager, String name, DataType floatType, long... expectedShape) {
        SafetensorsFile f = file(name);
        TensorInfo t = f.info(name);
        if (!t.dtype().isFloating()) {
            throw new BadInputException(location + ": tensor '" + name + "' is " + t.dtype()
                    + ", expected a floating-point weight (F32, F16, BF16 or F64)");
        }
        if (expectedShape != null && expectedShape.length > 0 && !java.util.Arrays.equals(t.shape(), expectedShape)) {
            throw new BadInputException(location + ": tensor '" + name + "' has shape " + t.shapeString()
                    + ", expected " + java.util.Arrays.toString(expectedShape) + " from config.json");
        }
        return f.toNDArray(manager, name, floatType);
    }

    private SafetensorsFile file(String name) {
        SafetensorsFile f = byName.get(name);
        if (f == null) {
            throw new BadInputException(location + ": missing tensor '" + name + "'");
        }
        return f;
    }

    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
