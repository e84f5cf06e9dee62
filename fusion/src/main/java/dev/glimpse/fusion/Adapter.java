package dev.glimpse.fusion;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A trained projector and what it was trained for. On disk: {@code adapter.safetensors} (LLaVA tensor names) and
 * {@code projector_config.json} (read as {@code adapter_config.json} from bundles written before the rename).
 */
public record Adapter(Projector projector, AdapterConfig config) {
    public static final String WEIGHTS = "adapter.safetensors";

    public static Adapter load(Path dir) {
        AdapterConfig c = AdapterConfig.read(dir);
        Path w = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(w)) {
            throw new BadInputException(dir + ": " + AdapterConfig.FILE + " without " + WEIGHTS);
        }
        try (dev.glimpse.core.SafetensorsFile f = dev.glimpse.core.SafetensorsFile.open(w)) {
            f.verify(); // bundles written by Glimpse carry a checksum: a damaged one is named, not half-loaded
        }
        try (Checkpoint ckpt = Checkpoint.open(w)) {
            Projector p = Projector.fromCheckpoint(ckpt, Projector.PREFIX);
            if (p.type() != c.projector() || p.inputDim() != c.featureDim() || p.outputDim() != c.llmHiddenSize()) {
                throw new BadInputException(w + ": weights are a " + p.type().label() + " " + p.inputDim() + "→"
                        + p.outputDim() + " projector but " + AdapterConfig.FILE + " says " + c.projector().label() + " "
                        + c.featureDim() + "→" + c.llmHiddenSize());
            }
            return new Adapter(p, c);
        }
    }

    /** Writes the adapter into {@code dir} (weights first, then the config, each atomically). */
    public void save(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new dev.glimpse.core.GlimpseException("cannot create " + dir + ": " + e.getMessage(), e);
        }
        projector.save(dir.resolve(WEIGHTS));
        config.write(dir);
    }
}
