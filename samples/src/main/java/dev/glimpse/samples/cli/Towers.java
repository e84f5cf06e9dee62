package dev.glimpse.samples.cli;

import dev.glimpse.core.ModelRepository;
import dev.glimpse.vision.OnnxVisionTower;
import dev.glimpse.vision.VisionTower;
import dev.glimpse.vision.VitVisionTower;
import java.nio.file.Files;
import java.nio.file.Path;

/** Opens whatever a user names as a vision tower: an ONNX export or a CLIP/SigLIP/LLaVA checkpoint. */
final class Towers {
    private Towers() {}

    static VisionTower open(String name, String layer, boolean dropCls) {
        Path p = GlimpseCli.repository().resolve(name);
        boolean onnx = p.toString().endsWith(".onnx") || Files.isRegularFile(p.resolve("vision_model.onnx"));
        if (onnx) {
            return OnnxVisionTower.builder(p).layer(layer).dropCls(dropCls).build();
        }
        int index;
        try {
            index = Integer.parseInt(layer);
        } catch (NumberFormatException e) {
            throw new dev.glimpse.core.BadInputException("--layer '" + layer + "': a safetensors tower takes a layer "
                    + "index such as -1 or -2 (output names are for ONNX towers)");
        }
        return VitVisionTower.load(p, index, dropCls);
    }
}
