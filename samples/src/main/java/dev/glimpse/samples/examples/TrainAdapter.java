package dev.glimpse.samples.examples;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.Progress;
import dev.glimpse.fusion.Adapter;
import dev.glimpse.fusion.AdapterConfig;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.CausalLM;
import dev.glimpse.samples.demo.DemoKit;
import dev.glimpse.samples.demo.DemoRunner;
import dev.glimpse.samples.demo.DiagramDataset;
import dev.glimpse.training.AdapterTrainer;
import dev.glimpse.training.TrainingExample;
import dev.glimpse.training.TrainingOptions;
import dev.glimpse.vision.OnnxVisionTower;
import dev.glimpse.vision.VisionTower;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Train an adapter in a few lines: features from a frozen tower, a projector trained through a frozen LM, saved as
 * a bundle. Arguments: output directory, number of optimizer steps.
 */
public final class TrainAdapter {
    private TrainAdapter() {}

    public static void main(String[] args) {
        Path out = Path.of(args[0]);
        int steps = Integer.parseInt(args[1]);
        Path kit = DemoKit.locate();
        // Glimpse's device (a GPU when libtorch sees one) and its training type there: bf16 / fp16 on a GPU, fp32 on
        // the CPU; the trained weights stay fp32 either way
        Device device = GlimpseEngine.device();
        DataType compute = TrainingOptions.defaultDataType(device);
        try (VisionTower tower = OnnxVisionTower.builder(DemoKit.tower(kit)).layer(DemoRunner.LAYER).build();
             CausalLM lm = CausalLM.load(DemoKit.llm(kit), GlimpseEngine.newManager(device), compute)) {
            // 1. data: drawn diagrams, their tower features, prompts and answers
            Map<String, float[]> features = new HashMap<>();
            List<TrainingExample> examples = new ArrayList<>();
            for (DiagramDataset.Item it : DiagramDataset.generate(16, 1, "ex")) {
                features.put(it.id(), tower.encode(List.of(it.image())).image(0));
                String prompt = DemoRunner.TEMPLATE.render(new Question(List.of(it.image()), it.kind().question,
                        it.kind().options, ""));
                examples.add(new TrainingExample(it.id(), List.of(it.id()), prompt, " " + it.answerText()));
            }
            // 2. a projector trained through the frozen LM
            Projector projector = Projector.initialize(ProjectorType.MLP2X_GELU, tower.hiddenSize(),
                    lm.config().hiddenSize(), false, 1);
            TrainingOptions options = TrainingOptions.builder().batchSize(8).learningRate(5e-3).maxSteps(steps)
                    .dataType(compute).checkpointEvery(0).build();
            AdapterTrainer.Result r = new AdapterTrainer(lm, projector, options).train(examples, features::get,
                    tower.numTokens(), out.resolve("training"), false, Progress.NONE, null);
            System.out.printf("%d steps, final loss %.4f%n", r.steps(), r.finalLoss());
            // 3. saved as a bundle that `glimpse ask` and VisionLanguageModel.load understand
            new Adapter(projector, new AdapterConfig(ProjectorType.MLP2X_GELU, tower.hiddenSize(),
                    lm.config().hiddenSize(), lm.config().hiddenSize(), tower.numTokens(), false, tower.name(),
                    tower.layer(), "stories260k")).save(out.resolve("adapter"));
            new VisionLanguageModel.BundleSpec(DemoKit.tower(kit).toString(), DemoRunner.LAYER, true,
                    DemoKit.llm(kit).toString(), "adapter", DemoRunner.TEMPLATE).write(out);
            System.out.println("bundle: " + out);
        }
    }
}
