package dev.glimpse.fusion;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A trained projector and what it was trained for. On disk: {@code adapter.safetensors} (LLaVA tensor names), or
 * {@code mm_projector.safetensors} (the original LLaVA repository's), and {@code projector_config.json} (read as
 * {@code adapter_config.json} from bundles written before the rename).
 */
public record Adapter(Projector projector, AdapterConfig config) {
    public static final String WEIGHTS = "adapter.safetensors";

    /** LLaVA's own projector file (a PEFT-format export writes it): {@code model.mm_projector.0|2.*}. */
    public static final String LLAVA_WEIGHTS = "mm_projector.safetensors";

    public static Adapter load(Path dir) {
        AdapterConfig c = AdapterConfig.read(dir);
        boolean llava = !Files.isRegularFile(dir.resolve(WEIGHTS)) && Files.isRegularFile(dir.resolve(LLAVA_WEIGHTS));
        Path w = dir.resolve(llava ? LLAVA_WEIGHTS : WEIGHTS);
        if (!Files.isRegularFile(w)) {
            throw new BadInputException(dir + ": " + AdapterConfig.FILE + " without " + WEIGHTS);
        }
        try (dev.glimpse.core.SafetensorsFile f = dev.glimpse.core.SafetensorsFile.open(w)) {
            f.verify(); // bundles written by Glimpse carry a checksum: a damaged one is named, not half-loaded
        }
        try (Checkpoint ckpt = Checkpoint.open(w)) {
            Projector p = Projector.fromCheckpoint(ckpt, llava ? "model.mm_projector." : Projector.PREFIX);
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
