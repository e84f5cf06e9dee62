package dev.glimpse.core;

import java.nio.file.Path;

/**
 * preprocessor_config.json of an image processor. {@code shortestEdge} > 0 means "resize the shortest edge"
 * (CLIP); otherwise the image is resized to {@code height}×{@code width} (SigLIP, ViT). {@code pillowResize} is set
 * when the config documents that its reference pixels came from Pillow rather than torchvision.
 */
public record PreprocessorConfig(String processorType, boolean doResize, int shortestEdge, int height, int width,
                                 int resample, boolean doCenterCrop, int cropHeight, int cropWidth,
                                 boolean doRescale, double rescaleFactor, boolean doNormalize, float[] imageMean,
                                 float[] imageStd, boolean doConvertRgb, boolean padToSquare,
                                 boolean pillowResize) {

    public static PreprocessorConfig read(Path dirOrFile) {
        Path file = dirOrFile.toString().endsWith(".json") ? dirOrFile : dirOrFile.resolve("preprocessor_config.json");
        JsonFields f = JsonFields.read(file);
        int shortest = 0;
        int h = 0;
        int w = 0;
        if (f.has("size")) {
            if (f.node().get("size").isIntegralNumber()) {
                shortest = f.integer("size");
            } else {
                JsonFields s = f.object("size");
                if (s.has("shortest_edge")) {
                    shortest = s.integer("shortest_edge");
                } else {
                    h = s.integer("height");
                    w = s.integer("width");
                }
            }
        }
        int ch = 0;
        int cw = 0;
        boolean crop = f.bool("do_center_crop", false);
        if (crop) {
            if (f.node().get("crop_size") != null && f.node().get("crop_size").isIntegralNumber()) {
                ch = cw = f.integer("crop_size");
            } else {
                JsonFields c = f.object("crop_size");
                ch = c.integer("height");
                cw = c.integer("width");
            }
        }
        boolean resize = f.bool("do_resize", true);
        if (resize && shortest <= 0 && (h <= 0 || w <= 0)) {
            throw f.bad("size", "{\"shortest_edge\": N} or {\"height\": H, \"width\": W} with positive sizes");
        }
        float[] mean = f.floats("image_mean", new float[] {0.5f, 0.5f, 0.5f});
        float[] std = f.floats("image_std", new float[] {0.5f, 0.5f, 0.5f});
        if (mean.length != 3 || std.length != 3) {
            throw f.bad(mean.length != 3 ? "image_mean" : "image_std", "three numbers (R, G, B)");
        }
        return new PreprocessorConfig(f.text("image_processor_type", "CLIPImageProcessor"), resize, shortest, h, w,
                f.integer("resample", 3), crop, ch, cw, f.bool("do_rescale", true),
                f.number("rescale_factor", 1 / 255.0), f.bool("do_normalize", true), mean, std,
                f.bool("do_convert_rgb", true), "pad".equals(f.text("image_aspect_ratio", "")),
                // a processor whose notes say its pixels came from Pillow (e.g. the demo kit's MobileNetV2)
                f.text("resample_note", "").contains("Pillow"));
    }
}
