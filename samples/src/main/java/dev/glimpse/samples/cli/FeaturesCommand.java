package dev.glimpse.samples.cli;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.DType;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.vision.FeatureCache;
import dev.glimpse.vision.VisionTower;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "features", mixinStandardHelpOptions = true,
        description = "Encode images once with a frozen vision tower into a reusable feature cache.",
        footer = {"", "Examples:",
            "  glimpse features --vision samples/demo-kit/mobilenet-v2-features --layer block_13_hidden_state "
                    + "--images scienceqa/images --out cache/",
            "  glimpse features --vision openai/clip-vit-large-patch14-336 --layer -2 --images list.txt --out cache/"})
final class FeaturesCommand implements Callable<Integer> {
    static final List<String> EXTENSIONS = List.of(".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff");

    @Option(names = "--vision", required = true, description = "ONNX tower (file or dir with vision_model.onnx), "
            + "CLIP/SigLIP/LLaVA checkpoint dir, or hub id.")
    String vision;

    @Option(names = "--images", required = true, description = "Directory (searched recursively) or a list file with"
            + " one image path per line.")
    Path images;

    @Option(names = "--out", required = true, description = "Cache directory.")
    Path out;

    @Option(names = "--layer", defaultValue = "-2", description = "Feature layer: -1, -2 (LLaVA's default), or an "
            + "ONNX output name. Default ${DEFAULT-VALUE}.")
    String layer;

    @Option(names = "--keep-cls", description = "Keep CLIP's CLS token (dropped by default, as LLaVA does).")
    boolean keepCls;

    @Option(names = "--fp32", description = "Store fp32 (default fp16).")
    boolean fp32;

    @Option(names = "--batch-size", defaultValue = "16")
    int batchSize;

    @Option(names = "--json", description = "Print {images, encoded, failed, images_per_s}.")
    boolean json;

    @Spec
    CommandSpec spec;

    static List<Path> listImages(Path images) {
        if (Files.isDirectory(images)) {
            try (Stream<Path> s = Files.walk(images)) {
                return s.filter(Files::isRegularFile).filter(p -> EXTENSIONS.stream()
                        .anyMatch(e -> p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(e)))
                        .sorted().toList();
            } catch (IOException e) {
                throw new GlimpseException("cannot list " + images + ": " + e.getMessage(), e);
            }
        }
        if (!Files.isRegularFile(images)) {
            throw new BadInputException(images + ": no such directory or list file");
        }
        try {
            Path base = images.toAbsolutePath().getParent();
            List<Path> out = new ArrayList<>();
            for (String line : Files.readAllLines(images)) {
                String l = line.strip();
                if (!l.isEmpty() && !l.startsWith("#")) {
                    Path p = Path.of(l);
                    out.add(p.isAbsolute() ? p : base.resolve(p));
                }
            }
            return out;
        } catch (IOException e) {
            throw new BadInputException(images + ": cannot read the list file: " + e.getMessage(), e);
        }
    }

    @Override
    public Integer call() {
        PrintWriter o = spec.commandLine().getOut();
        List<Path> files = listImages(images);
        FeatureCache.Result r;
        try (VisionTower tower = Towers.open(vision, layer, !keepCls);
             FeatureCache cache = FeatureCache.open(out, tower, fp32 ? DType.F32 : DType.F16);
             CliProgress bar = new CliProgress("features", files.size(), "img")) {
            r = cache.encodeAll(files, batchSize, bar);
        }
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("images", r.images());
            m.put("encoded", r.encoded());
            m.put("reused", r.reused());
            m.put("failed", r.failed().stream().map(f -> Map.of("image", f.image(), "reason", f.reason())).toList());
            m.put("images_per_s", Math.round(r.imagesPerSecond() * 10) / 10.0);
            o.println(Json.write(m));
        } else {
            o.printf(Locale.ROOT, "%d images: %d encoded (%.1f images/s), %d already cached, %d failed%n", r.images(),
                    r.encoded(), r.imagesPerSecond(), r.reused(), r.failed().size());
            r.failed().forEach(f -> o.println("  failed: " + f.reason()));
        }
        return 0;
    }
}
