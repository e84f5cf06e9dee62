package dev.glimpse.spark;

import dev.glimpse.core.BadInputException;
import dev.glimpse.vision.VisionTower;
import java.io.Serializable;
import java.nio.file.Path;

/**
 * Which vision tower an executor loads: a directory every executor sees (or {@code sparkfiles:NAME}), the feature
 * layer, whether CLIP's CLS token is dropped, the device (cpu, gpu or null for the default). Serializable, and the key
 * of {@link ExecutorModels}' cache.
 */
public record TowerSpec(String vision, String layer, boolean dropCls, String device) implements Serializable {
    public TowerSpec {
        if (vision == null || vision.isBlank()) {
            throw new BadInputException("vision: a tower directory every executor sees, or sparkfiles:NAME");
        }
        if (layer == null || layer.isBlank()) {
            throw new BadInputException("layer: -1, -2 or an ONNX output name");
        }
        ModelSpec.device(device); // checked here, on the driver
    }

    VisionTower load() {
        return VisionTower.open(Path.of(ModelSpec.local(vision)), layer, dropCls, ModelSpec.device(device));
    }
}
