package dev.glimpse.language;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.core.AtomicFile;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.LanguageModelConfig;
import dev.glimpse.core.OnnxGraph;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the ONNX engine keeps the models it builds: one folder per checkpoint, options and graph version (a
 * fingerprint of all of them), built once and shared between runs and processes. A build is written into a
 * temporary folder and moved into place whole, its build.json (written last) naming the bytes it holds: a folder
 * that does not match is unfinished or damaged, and is built again.
 */
final class OnnxModelCache {
    private static final Logger LOG = LoggerFactory.getLogger(OnnxModelCache.class);
    /** Changes whenever the graph written for the same checkpoint and options changes: old builds are not reused. */
    private static final String GRAPH_VERSION = "glimpse-onnx-llama/8";

    /** What a model is built from: the LM's config and place in the checkpoint, a LoRA to merge, the options. */
    record Source(LanguageModelConfig config, Path checkpoint, String prefix, String headKey, LanguageAdapter lora,
                  Path loraDir, OnnxLlamaGraph.Options options) {}

    private final Path root;

    /** The cache in {@code root} (null: glimpse.onnx.cache, else $XDG_CACHE_HOME or ~/.cache /glimpse/onnx). */
    OnnxModelCache(Path root) {
        this.root = root != null ? root : defaultCache();
    }

    /** The folder holding the model built from {@code s} (named after {@code name}), built first if need be. */
    Path get(String name, Source s) {
        String key = fingerprint(s);
        Path built = root.resolve(name + "-" + s.options().weights() + "-" + key.substring(0, 16));
        if (!complete(built)) {
            build(s, built, key);
        }
        return built;
    }

    /** Bytes of a built model: model.onnx and its external data (−1 when unreadable). */
    static long modelBytes(Path dir) {
        try {
            Path data = dir.resolve("model.onnx.data");
            return Files.size(dir.resolve("model.onnx")) + (Files.exists(data) ? Files.size(data) : 0);
        } catch (IOException e) {
            return -1;
        }
    }

    private void build(Source s, Path built, String key) {
        LanguageModelConfig c = s.config();
        Path ckptLocation = s.checkpoint();
        OnnxLlamaGraph.Options o = s.options();
        Path work;
        try {
            Files.createDirectories(root);
            removeAbandoned(root);
            work = Files.createTempDirectory(root, ".building-");
        } catch (IOException e) {
            throw new GlimpseException("cannot create the ONNX model cache " + root + ": " + e.getMessage(), e);
        }
        Instant start = Instant.now();
        try (Checkpoint ckpt = Checkpoint.open(ckptLocation);
             OnnxGraph g = new OnnxGraph("glimpse-" + c.modelType())) {
            g.externalData(work.resolve("model.onnx.data"));
            OnnxLlamaGraph.build(g, c, tensors(ckpt, s), o, s.prefix(), s.headKey());
            g.writeTo(work.resolve("model.onnx"));
            ObjectNode info = new ObjectMapper().createObjectNode();
            info.put("graph", GRAPH_VERSION).put("key", key).put("weights", o.weights().toString())
                    .put("block_size", o.blockSize()).put("accuracy_level", o.accuracyLevel())
                    .put("checkpoint", ckptLocation.toAbsolutePath().toString())
                    .put("lora", s.loraDir() == null ? null : s.loraDir().toAbsolutePath().toString())
                    .put("model_bytes", modelBytes(work))
                    .put("build_seconds", Duration.between(start, Instant.now()).toMillis() / 1000.0);
            // build.json is written last: a folder without it is an unfinished build
            AtomicFile.write(work.resolve("build.json"), ch -> ch.write(ByteBuffer.wrap(
                    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(info))));
            if (Files.exists(built) && !complete(built)) {
                AtomicFile.deleteTree(built); // damaged (files truncated or removed since): replaced by this build
            }
            try {
                Files.move(work, built, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                AtomicFile.deleteTree(work); // another process finished the same build first
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(work, built);
            }
            LOG.info("built {} ({} weights) in {} s", built, o.weights(),
                    Duration.between(start, Instant.now()).toSeconds());
        } catch (IOException e) {
            AtomicFile.deleteTree(work);
            throw new GlimpseException("cannot write the ONNX model in " + work + ": " + e.getMessage(), e);
        } catch (RuntimeException | Error e) {
            AtomicFile.deleteTree(work);
            throw e;
        }
    }

    /** The checkpoint's tensors, with the LoRA (if any) merged: W + scaling·B·A. */
    private static OnnxLlamaGraph.Source tensors(Checkpoint ckpt, Source s) {
        LanguageModelConfig c = s.config();
        Map<String, float[]> deltas = s.lora() == null ? Map.of() : LoraDeltas.of(s.lora(), c, s.prefix());
        return new OnnxLlamaGraph.Source() {
            @Override
            public boolean contains(String key) {
                return ckpt.contains(key);
            }

            @Override
            public long[] shape(String key) {
                return ckpt.info(key).shape();
            }

            @Override
            public float[] floats(String key) {
                if (!ckpt.contains(key)) {
                    throw new BadInputException(ckpt.location() + " has no tensor '" + key
                            + "', which a " + c.modelType() + " decoder needs");
                }
                float[] w = ckpt.toFloats(key);
                float[] d = deltas.get(key);
                if (d != null) {
                    for (int i = 0; i < w.length; i++) {
                        w[i] += d[i];
                    }
                }
                return w;
            }
        };
    }

    /**
     * SHA-256 of what the built model depends on: the graph version, the options, the config, the LM's place in
     * the checkpoint, each weight file's name, size, modification time and header, and the LoRA's files.
     */
    private static String fingerprint(Source s) {
        Path ckptLocation = s.checkpoint();
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update((GRAPH_VERSION + "|" + s.options() + "|" + s.prefix() + "|" + s.headKey() + "|" + s.config())
                    .getBytes(StandardCharsets.UTF_8));
            for (Path f : weightFiles(ckptLocation)) {
                md.update((f.getFileName() + "|" + Files.size(f) + "|" + Files.getLastModifiedTime(f).toMillis())
                        .getBytes(StandardCharsets.UTF_8));
                try (InputStream in = Files.newInputStream(f)) {
                    md.update(in.readNBytes(1 << 16));
                }
            }
            if (s.loraDir() != null) {
                for (Path f : weightFiles(s.loraDir())) {
                    md.update(Files.readAllBytes(f));
                }
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw new GlimpseException("cannot read " + ckptLocation + " to fingerprint it: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static List<Path> weightFiles(Path location) throws IOException {
        if (Files.isRegularFile(location)) {
            return List.of(location);
        }
        try (Stream<Path> s = Files.list(location)) {
            return s.filter(p -> {
                String n = p.getFileName().toString();
                return n.endsWith(".safetensors") || n.endsWith(".json");
            }).sorted(Comparator.comparing(Path::toString)).toList();
        }
    }

    private static Path defaultCache() {
        String prop = System.getProperty("glimpse.onnx.cache");
        if (prop != null && !prop.isBlank()) {
            return Path.of(prop);
        }
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"),
                ".cache");
        return base.resolve("glimpse").resolve("onnx");
    }

    /** A finished build: its build.json (written last) names the bytes its model files hold. */
    private static boolean complete(Path built) {
        Path info = built.resolve("build.json");
        if (!Files.isRegularFile(info)) {
            return false;
        }
        try {
            long want = new ObjectMapper().readTree(info.toFile()).path("model_bytes").asLong(-1);
            return want == modelBytes(built);
        } catch (IOException e) {
            return false;
        }
    }

    /** Unfinished builds of processes that died: folders named .building-* untouched for a day. */
    private static void removeAbandoned(Path root) throws IOException {
        try (Stream<Path> s = Files.list(root)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(".building-")).toList()) {
                if (Files.getLastModifiedTime(p).toInstant().isBefore(Instant.now().minus(Duration.ofDays(1)))) {
                    AtomicFile.deleteTree(p);
                }
            }
        }
    }
}
