package dev.glimpse.samples.examples;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.fusion.Question;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.CausalLM;
import dev.glimpse.samples.demo.DemoKit;
import dev.glimpse.samples.demo.DemoRunner;
import dev.glimpse.samples.demo.DiagramDataset;
import dev.glimpse.training.TrainingExample;
import dev.glimpse.training.TrainingOptions;
import dev.glimpse.training.TrainingRun;
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
            // 2. a projector trained through the frozen LM, saved as a bundle that `glimpse ask` and
            //    VisionLanguageModel.load understand
            TrainingOptions options = TrainingOptions.builder().batchSize(8).learningRate(5e-3).maxSteps(steps)
                    .dataType(compute).seed(1).checkpointEvery(0).build();
            TrainingRun.Result r = TrainingRun.builder(tower, lm).examples(examples).features(features::get)
                    .template(DemoRunner.TEMPLATE).options(options).out(out.resolve("training"))
                    .bundle(out, DemoKit.tower(kit).toString(), DemoKit.llm(kit).toString(), "stories260k")
                    .run();
            System.out.printf("%d steps, final loss %.4f%n", r.training().steps(), r.training().finalLoss());
            System.out.println("bundle: " + out);
        }
    }
}
