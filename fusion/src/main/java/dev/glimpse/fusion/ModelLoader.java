package dev.glimpse.fusion;

import ai.djl.ndarray.NDManager;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.LlavaConfig;
import dev.glimpse.core.ModelConfig;
import dev.glimpse.core.ModelRepository;
import dev.glimpse.core.TensorInfo;
import dev.glimpse.language.LanguageAdapter;
import dev.glimpse.language.LanguageModel;
import dev.glimpse.language.RuntimeOptions;
import dev.glimpse.vision.ImageProcessor;
import dev.glimpse.vision.VisionTower;
import dev.glimpse.vision.VitVisionTower;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Resolves a model reference (a bundle directory, a LLaVA checkpoint, or a hub id of either) to its parts — tower,
 * LLM on the runtime's engine, projector, prompt template — and joins them. What fails closes what was opened.
 */
final class ModelLoader {
    private final ModelRepository repository;
    private final RuntimeOptions runtime;

    ModelLoader(ModelRepository repository, RuntimeOptions runtime) {
        this.repository = repository;
        this.runtime = runtime;
    }

    VisionLanguageModel load(String model) {
        Path dir = repository.resolve(model);
        if (Bundle.isBundle(dir)) {
            return loadBundle(dir);
        }
        if (Files.isRegularFile(dir.resolve("config.json")) && ModelConfig.read(dir) instanceof LlavaConfig) {
            return loadLlava(dir);
        }
        throw new BadInputException(dir + ": neither a Glimpse bundle (bundle.json) nor a LLaVA checkpoint"
                + " (config.json with model_type llava)");
    }

    private VisionLanguageModel loadBundle(Path dir) {
        Bundle b = Bundle.read(dir);
        Path adapterDir = b.llmAdapter() == null ? null : resolve(dir, b.llmAdapter());
        LanguageAdapter llmAdapter = adapterDir == null ? null : LanguageAdapter.load(adapterDir);
        Path llmDir = resolve(dir, b.llm());
        Adapter adapter = Adapter.load(resolve(dir, b.adapter()));
        VisionTower tower = VisionTower.open(resolve(dir, b.vision()), b.visionLayer(), b.dropCls(), runtime.device());
        LanguageModel lm = null;
        try {
            lm = runtime.open(llmDir, llmAdapter, adapterDir);
            return VisionLanguageModel.of(tower, lm, adapter, llmDir.getFileName().toString(), b.template());
        } catch (RuntimeException e) {
            tower.close();
            if (lm != null) {
                lm.close();
            }
            throw e;
        }
    }

    /** A path relative to the bundle, an absolute path, or a hub id. */
    Path resolve(Path base, String ref) {
        Path p = Path.of(ref);
        if (p.isAbsolute()) {
            return p;
        }
        Path local = base.resolve(ref).normalize();
        return Files.exists(local) ? local : repository.resolve(ref);
    }

    /** A LLaVA checkpoint: tower, projector and LLM from one directory (llava-hf or transformers-5 key layout). */
    private VisionLanguageModel loadLlava(Path dir) {
        LlavaConfig cfg = (LlavaConfig) ModelConfig.read(dir);
        NDManager towerManager = runtime.device() == null ? GlimpseEngine.newManager()
                : GlimpseEngine.newManager(runtime.device());
        VitVisionTower tower = null;
        LanguageModel lm = null;
        try (Checkpoint ckpt = Checkpoint.open(dir)) {
            tower = new VitVisionTower(cfg.vision(), ckpt, towerManager, ImageProcessor.read(dir),
                    cfg.visionFeatureLayer(), cfg.visionFeatureSelectStrategy().equals("default"),
                    dir.toAbsolutePath().normalize().toString());
            String lmPrefix = prefixOf(ckpt, "embed_tokens.weight");
            String head = ckpt.contains("lm_head.weight") ? "lm_head.weight"
                    : lmPrefix.replaceFirst("model\\.$", "") + "lm_head.weight";
            Projector proj = Projector.fromCheckpoint(ckpt, prefixOf(ckpt, "multi_modal_projector.linear_1.weight")
                    + "multi_modal_projector.");
            PromptTemplate t = LlavaExport.promptOf(dir);
            lm = runtime.openPart(dir, cfg.text(), lmPrefix, head);
            return VisionLanguageModel.of(tower, lm, proj, t);
        } catch (RuntimeException e) {
            if (tower != null) {
                tower.close();
            } else {
                towerManager.close();
            }
            if (lm != null) {
                lm.close();
            }
            throw e;
        }
    }

    /** Where a part sits in a LLaVA checkpoint, found by one of its tensors; one line when it is not there. */
    static String prefixOf(Checkpoint ckpt, String suffix) {
        return ckpt.prefixOf(suffix).orElseThrow(() -> new BadInputException(ckpt.location() + ": no tensor '*"
                + suffix + "'"));
    }
}
