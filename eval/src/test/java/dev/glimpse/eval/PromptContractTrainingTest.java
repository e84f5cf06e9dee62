package dev.glimpse.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.TestData;
import dev.glimpse.fusion.Projector;
import dev.glimpse.fusion.ProjectorType;
import dev.glimpse.fusion.PromptTemplate;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.CausalLM;
import dev.glimpse.training.BatchBuilder;
import dev.glimpse.training.TrainingExample;
import dev.glimpse.vision.OnnxVisionTower;
import dev.glimpse.vision.VisionTower;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What is trained is what is scored, down to token ids: for ScienceQA problems (with and without images) under
 * letter and option-text templates, the answer tokens a training batch carries equal the token ids the model
 * scores for the gold choice.
 */
class PromptContractTrainingTest {
    @Test
    void trainedTokenIdsAreScoredTokenIds() {
        Path images = TestData.scienceQa().resolve("images/test");
        ScienceQaDataset all = ScienceQaDataset.fromLlavaQuestions(TestData.scienceQa()
                .resolve("questions/llava_test_CQM-A.json"));
        // short enough for stories260k's 512 positions (49 image slots included)
        List<String> ids = all.problems().stream().filter(p -> p.prompt().length() < 700).filter(p -> !p.hasImage()
                || Files.isRegularFile(ScienceQaDataset.imagePath(p, images))).limit(60).map(Problem::id).toList();
        ScienceQaDataset d = all.only(new LinkedHashSet<>(ids));
        assertTrue(d.problems().stream().anyMatch(Problem::hasImage), "image problems are covered");
        VisionTower tower = OnnxVisionTower.builder(TestData.model("mobilenet-v2-features"))
                .layer("block_13_hidden_state").build();
        CausalLM lm = CausalLM.load(TestData.model("stories260k"), GlimpseEngine.newCpuManager(), DataType.FLOAT32);
        try (VisionLanguageModel vlm = VisionLanguageModel.of(tower, lm, Projector.initialize(ProjectorType.LINEAR,
                tower.hiddenSize(), lm.config().hiddenSize(), false, 1), PromptTemplate.LLAVA)) {
            BatchBuilder builder = new BatchBuilder(lm, tower.numTokens());
            for (PromptTemplate t : List.of(PromptTemplate.LLAVA, PromptTemplate.LLAVA.withScoring(
                    PromptTemplate.Scoring.OPTIONS), new PromptTemplate("<image>\nQuestion: {question}\nAnswer:",
                    PromptTemplate.Scoring.OPTIONS, " "))) {
                List<TrainingExample> examples = ScienceQaContract.examples(d, images, t);
                assertEquals(d.size(), examples.size());
                for (int i = 0; i < examples.size(); i++) {
                    Problem p = d.problems().get(i);
                    TrainingExample ex = examples.get(i);
                    assertEquals(ScienceQaContract.render(t, p), ex.prompt());
                    int[] labels = builder.tokenize(ex).labels();
                    int[] trained = Arrays.stream(labels).filter(x -> x != -100).toArray();
                    trained = Arrays.copyOf(trained, trained.length - 1); // the EOS that ends every target
                    List<String> conts = new ArrayList<>();
                    for (int c = 0; c < p.choices().size(); c++) {
                        conts.add(t.continuation(p.choices(), c));
                    }
                    int[] scored = vlm.continuationIds(ScienceQaContract.render(t, p), conts).get(p.answer());
                    assertArrayEquals(scored, trained, t.scoring() + " problem " + p.id());
                }
            }
            // the measured failure this guards: trained on "A" glued to the prompt, scored as " A"
            List<int[]> both = vlm.continuationIds("from the given choices directly.", List.of("A", " A"));
            assertTrue(!Arrays.equals(both.get(0), both.get(1)), "\"A\" and \" A\" are other tokens after the prompt");
        }
    }
}
