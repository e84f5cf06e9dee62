package dev.glimpse.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.glimpse.core.TestData;
import dev.glimpse.eval.EvalReport;
import dev.glimpse.eval.Predictions;
import dev.glimpse.eval.Problem;
import dev.glimpse.eval.Scorer;
import dev.glimpse.eval.ScienceQaDataset;
import dev.glimpse.vision.ImageLoader;
import dev.glimpse.vision.ImageProcessor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Checks over the whole ScienceQA test set, which the repository does not hold. Opt-in: run with
 * {@code mvn -B verify -Pfull-data -Dglimpse.scienceqa=/path/to/scienceqa} (testdata/README.md says where to get it).
 * The default run excludes the {@code full-data} tag; with the profile, missing data fails and says what is missing.
 */
@Tag("full-data")
class FullScienceQaTest {
    static Path dataset() {
        String p = System.getProperty("glimpse.scienceqa", "");
        if (p.isBlank()) {
            fail("the full-data tests need -Dglimpse.scienceqa=<folder in ScienceQA's layout> (see testdata/README.md)");
        }
        Path dir = Path.of(p).toAbsolutePath();
        for (String f : List.of("questions/llava_test_CQM-A.json", "images/test")) {
            if (!Files.exists(dir.resolve(f))) {
                fail(dir.resolve(f) + " is missing (see testdata/README.md)");
            }
        }
        return dir;
    }

    static double round2(double percent) {
        return Math.round(percent * 100) / 100.0;
    }

    /** Every one of the 2,017 test images is present, decodes, and preprocesses for the demo tower. */
    @Test
    void everyTestImageIsPresentAndPreprocesses() {
        Path dir = dataset();
        ScienceQaDataset q = ScienceQaDataset.fromLlavaQuestions(dir.resolve("questions/llava_test_CQM-A.json"));
        ImageLoader loader = new ImageLoader();
        ImageProcessor proc = ImageProcessor.read(TestData.model("mobilenet-v2-features"));
        List<String> missing = new ArrayList<>();
        int decoded = 0;
        for (Problem p : q.problems()) {
            if (!p.hasImage()) {
                continue;
            }
            Path img = ScienceQaDataset.imagePath(p, dir.resolve("images/test"));
            if (!Files.isRegularFile(img)) {
                missing.add(p.id());
                continue;
            }
            assertEquals(3 * 224 * 224, proc.pixelValues(loader.load(img)).length, img.toString());
            decoded++;
        }
        assertTrue(missing.isEmpty(), missing.size() + " of 2017 test images are missing under " + dir
                + "/images/test, e.g. pids " + missing.subList(0, Math.min(10, missing.size())));
        assertEquals(2017, decoded);
    }

    /**
     * GPT-3 CoT's published outputs scored over the official problems file: 75.17 % overall and the TXT / IMG / NO
     * columns of the paper's row. With only problems_partial_1_1773.json, its 361 test problems are checked.
     */
    @Test
    void gpt3CotRowFromTheOfficialProblemsFile() {
        Path dir = dataset();
        Path full = dir.resolve("questions/problems.json");
        Path partial = dir.resolve("questions/problems_partial_1_1773.json");
        Path splits = dir.resolve("pid_splits.json");
        Predictions gpt3 = Predictions.read(TestData.scienceQa().resolve("predictions/gpt3_test_QCM-ALE_2shot_seed3.json"));
        if (Files.isRegularFile(full)) {
            ScienceQaDataset test = ScienceQaDataset.fromProblems(full, splits, "test");
            assertEquals(4241, test.size());
            EvalReport r = Scorer.scoreIndices(test, gpt3, null);
            r.byCategory().forEach((k, v) -> System.out.printf("GPT-3 CoT %s %.2f%n", k, v.accuracy()));
            assertEquals(75.17, round2(r.accuracy()));
            assertEquals(74.68, round2(r.byCategory().get("TXT").accuracy()));
            assertEquals(67.43, round2(r.byCategory().get("IMG").accuracy()));
            assertEquals(79.93, round2(r.byCategory().get("NO").accuracy()));
        } else if (Files.isRegularFile(partial)) {
            ScienceQaDataset all = ScienceQaDataset.fromProblems(partial);
            assertEquals(1773, all.size());
            ScienceQaDataset test = ScienceQaDataset.fromProblems(partial, splits, "test");
            assertEquals(361, test.size());
            assertEquals(269, Scorer.scoreIndices(test, gpt3, null).correct());
        } else {
            fail("neither " + full + " nor " + partial + " exists");
        }
    }
}
