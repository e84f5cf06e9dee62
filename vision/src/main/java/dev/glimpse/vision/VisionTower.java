package dev.glimpse.vision;

import java.awt.image.BufferedImage;
import java.util.List;

/**
 * A frozen vision encoder: images in, patch features [B, N, D] out, from the layer it was configured with (last, or
 * −2 as LLaVA uses) and with CLIP's CLS token dropped or kept. Implementations: {@link OnnxVisionTower} (ONNX
 * Runtime) and {@link VitVisionTower} (CLIP/SigLIP in DJL from safetensors).
 *
 * <p>Implementations are thread-safe: a service may share one tower between request threads.
 */
public interface VisionTower extends AutoCloseable {
    /** What produced the features: model, layer, token selection and preprocessing (feature caches key on it). */
    String id();

    /** The model's name (its directory or hub id), as adapters record it. */
    String name();

    /** The feature layer as configured (e.g. "-2" or an ONNX output name). */
    String layer();

    /** The preprocessing this tower was trained with. */
    ImageProcessor processor();

    /** Tokens per image after selection (e.g. 576 for CLIP ViT-L/14-336 without CLS). */
    int numTokens();

    /** Feature width D. */
    int hiddenSize();

    /** Encodes pixel values [B, 3, H, W] (row-major, B × 3 × H × W floats). */
    Features encodePixels(float[] pixelValues, int batch);

    /** Preprocesses and encodes a batch of RGB images. */
    default Features encode(List<BufferedImage> images) {
        if (images.isEmpty()) {
            throw new IllegalArgumentException("no images to encode");
        }
        float[] first = processor().pixelValues(images.get(0));
        float[] all = new float[first.length * images.size()];
        System.arraycopy(first, 0, all, 0, first.length);
        for (int i = 1; i < images.size(); i++) {
            float[] px = processor().pixelValues(images.get(i));
            if (px.length != first.length) {
                throw new dev.glimpse.core.BadInputException("image " + i + " preprocesses to another size than image 0;"
                        + " this tower needs a fixed size (enable center crop or a fixed resize)");
            }
            System.arraycopy(px, 0, all, i * first.length, px.length);
        }
        return encodePixels(all, images.size());
    }

    /**
     * Opens what a user names as a tower: an ONNX export (a .onnx file or a directory with vision_model.onnx) or a
     * CLIP/SigLIP/LLaVA safetensors checkpoint, whose {@code layer} is an index such as -2.
     */
    static VisionTower open(java.nio.file.Path p, String layer, boolean dropCls) {
        return open(p, layer, dropCls, null);
    }

    /**
     * As {@link #open(java.nio.file.Path, String, boolean)} on {@code device} (null: the default — Glimpse's device
     * for safetensors towers, the CPU for ONNX ones); an ONNX tower on a GPU takes ONNX Runtime's CUDA provider.
     */
    static VisionTower open(java.nio.file.Path p, String layer, boolean dropCls, ai.djl.Device device) {
        if (p.toString().endsWith(".onnx") || java.nio.file.Files.isRegularFile(p.resolve("vision_model.onnx"))) {
            return OnnxVisionTower.builder(p).layer(layer).dropCls(dropCls).cuda(device != null && device.isGpu())
                    .build();
        }
        int index;
        try {
            index = Integer.parseInt(layer);
        } catch (NumberFormatException e) {
            throw new dev.glimpse.core.BadInputException("vision layer '" + layer + "': a safetensors tower takes a"
                    + " layer index such as -1 or -2 (output names are for ONNX towers)");
        }
        return VitVisionTower.load(p, index, dropCls, device);
    }

    @Override
    void close();
}
