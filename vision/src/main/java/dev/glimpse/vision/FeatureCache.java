package dev.glimpse.vision;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.core.AtomicFile;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.DType;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.Progress;
import dev.glimpse.core.SafetensorsFile;
import dev.glimpse.core.SafetensorsWriter;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Frozen-tower features computed once and reused: sharded safetensors (fp16 or fp32) keyed by each image's content
 * hash, in a subdirectory named after the tower's id — a different tower, layer, token selection or preprocessing
 * gets a fresh cache, so stale features are never served. Shards and the manifest are written atomically; an
 * interrupted run keeps every shard it finished.
 *
 * <p>Not thread-safe: one thread fills and reads a cache; open one per thread, or guard it.
 */
public final class FeatureCache implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int SHARD_IMAGES = 512;

    private final Path dir;
    private final VisionTower tower;
    private final DType dtype;
    private final Map<String, String> index = new LinkedHashMap<>(); // content hash -> shard file
    private final Map<String, SafetensorsFile> shards = new LinkedHashMap<>();
    private final Map<String, float[]> pending = new LinkedHashMap<>();
    private final ImageLoader loader;

    /** Outcome of {@link #encodeAll}: images seen, newly encoded, reused from the cache, and failures. */
    public record Result(int images, int encoded, int reused, List<Failure> failed, double imagesPerSecond) {}

    /** An image that could not be used, and why. */
    public record Failure(String image, String reason) {}

    private FeatureCache(Path root, VisionTower tower, DType dtype, ImageLoader loader) {
        this.tower = tower;
        this.dtype = dtype;
        this.loader = loader;
        this.dir = root.resolve(hash(tower.id().getBytes(StandardCharsets.UTF_8)).substring(0, 16));
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new GlimpseException("cannot create the feature cache " + dir + ": " + e.getMessage(), e);
        }
        Path manifest = dir.resolve("manifest.json");
        if (Files.isRegularFile(manifest)) {
            try {
                JsonNode m = JSON.readTree(manifest.toFile());
                if (!tower.id().equals(m.path("tower").asText())) {
                    throw new GlimpseException(manifest + ": belongs to another tower (" + m.path("tower").asText()
                            + ")");
                }
                m.path("images").fields().forEachRemaining(e -> index.put(e.getKey(), e.getValue().asText()));
            } catch (IOException e) {
                throw new GlimpseException(manifest + ": unreadable cache manifest (" + e.getMessage()
                        + "); delete the directory to rebuild it", e);
            }
        }
    }

    /** Opens (or creates) the cache for {@code tower} under {@code root}, storing features as {@code dtype}. */
    public static FeatureCache open(Path root, VisionTower tower, DType dtype) {
        if (dtype != DType.F16 && dtype != DType.F32) {
            throw new IllegalArgumentException("feature caches store F16 or F32, not " + dtype);
        }
        return new FeatureCache(root, tower, dtype, new ImageLoader());
    }

    /** The directory holding this tower's shards. */
    public Path directory() {
        return dir;
    }

    public int size() {
        return index.size() + pending.size();
    }

    /** The sha256 of a file's bytes: the key its features are stored under. */
    public static String contentHash(Path image) {
        try (InputStream in = Files.newInputStream(image)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) >= 0) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new BadInputException(image + ": cannot read: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The sha256 of an image's bytes (as {@link #contentHash(Path)} of a file holding them). */
    public static String contentHash(byte[] bytes) {
        return hash(bytes);
    }

    static String hash(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    public boolean contains(String contentHash) {
        return index.containsKey(contentHash) || pending.containsKey(contentHash);
    }

    /** Features [tokens × dim] of the image with this content hash, or null when not cached. */
    public float[] get(String contentHash) {
        float[] p = pending.get(contentHash);
        if (p != null) {
            return p;
        }
        String shard = index.get(contentHash);
        if (shard == null) {
            return null;
        }
        SafetensorsFile f = shards.computeIfAbsent(shard, s -> SafetensorsFile.open(dir.resolve(s)));
        return f.toFloats(contentHash);
    }

    /** Features of an image file, computing and caching them when needed. */
    public float[] features(Path image) {
        String h = contentHash(image);
        float[] f = get(h);
        if (f == null) {
            Features enc = tower.encode(List.of(loader.load(image)));
            f = enc.image(0);
            put(h, f);
        }
        return f;
    }

    /** Stores features computed elsewhere (e.g. of a generated image) under a key. */
    public void put(String key, float[] features) {
        if (features.length != tower.numTokens() * tower.hiddenSize()) {
            throw new IllegalArgumentException("features of " + features.length + " values, expected "
                    + tower.numTokens() + "x" + tower.hiddenSize());
        }
        pending.put(key, features);
        if (pending.size() >= SHARD_IMAGES) {
            flush();
        }
    }

    /**
     * Encodes every image not yet cached, in batches; unreadable images are listed, never abort the run.
     */
    public Result encodeAll(List<Path> images, int batchSize, Progress progress) {
        long start = System.nanoTime();
        List<Failure> failed = new ArrayList<>();
        int encoded = 0;
        int reused = 0;
        List<String> batchKeys = new ArrayList<>();
        List<BufferedImage> batch = new ArrayList<>();
        int done = 0;
        for (Path p : images) {
            String h;
            try {
                h = contentHash(p);
            } catch (BadInputException e) {
                failed.add(new Failure(p.toString(), e.getMessage()));
                progress.update(++done, images.size(), "failed");
                continue;
            }
            if (contains(h) || batchKeys.contains(h)) {
                reused++;
                progress.update(++done, images.size(), "cached");
                continue;
            }
            try {
                batch.add(loader.load(p));
                batchKeys.add(h);
            } catch (BadInputException e) {
                failed.add(new Failure(p.toString(), e.getMessage()));
                progress.update(++done, images.size(), "failed");
                continue;
            }
            if (batch.size() == batchSize) {
                encoded += encodeBatch(batch, batchKeys);
                done += batch.size();
                progress.update(done, images.size(), "encoded");
                batch.clear();
                batchKeys.clear();
            }
        }
        if (!batch.isEmpty()) {
            encoded += encodeBatch(batch, batchKeys);
            done += batch.size();
            progress.update(done, images.size(), "encoded");
        }
        flush();
        double secs = (System.nanoTime() - start) / 1e9;
        return new Result(images.size(), encoded, reused, failed, secs > 0 ? encoded / secs : 0);
    }

    private int encodeBatch(List<BufferedImage> batch, List<String> keys) {
        Features f = tower.encode(batch);
        for (int i = 0; i < keys.size(); i++) {
            put(keys.get(i), f.image(i));
        }
        return keys.size();
    }

    /** Writes pending features as a new shard and updates the manifest, both atomically. */
    public void flush() {
        if (pending.isEmpty()) {
            return;
        }
        int next = 1;
        while (Files.exists(dir.resolve(String.format("features-%05d.safetensors", next)))) {
            next++;
        }
        String shard = String.format("features-%05d.safetensors", next);
        SafetensorsWriter w = new SafetensorsWriter().metadata("tower", tower.id());
        long[] shape = {tower.numTokens(), tower.hiddenSize()};
        pending.forEach((k, v) -> w.add(k, dtype, shape, v));
        w.write(dir.resolve(shard));
        pending.keySet().forEach(k -> index.put(k, shard));
        pending.clear();
        ObjectNode m = JSON.createObjectNode();
        m.put("tower", tower.id());
        m.put("tokens", tower.numTokens());
        m.put("dim", tower.hiddenSize());
        m.put("dtype", dtype.name());
        ObjectNode imgs = m.putObject("images");
        index.forEach(imgs::put);
        try {
            AtomicFile.writeString(dir.resolve("manifest.json"),
                    JSON.copy().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(m));
        } catch (IOException e) {
            throw new GlimpseException("cannot write the cache manifest: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        flush();
        shards.values().forEach(SafetensorsFile::close);
        shards.clear();
    }
}
