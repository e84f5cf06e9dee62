package dev.glimpse.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Progress;
import dev.glimpse.core.TestData;
import dev.glimpse.eval.AnswerPolicy;
import dev.glimpse.eval.EvalReport;
import dev.glimpse.eval.EvalRunner;
import dev.glimpse.eval.ReportWriter;
import dev.glimpse.eval.ScienceQaContract;
import dev.glimpse.eval.ScienceQaDataset;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.ImageLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * ScienceQA on Spark (a real local[2] session, one for the class) against the single-process run on the committed
 * slice: the same answers.jsonl line for line and the same report, with and without images present; a run cut short
 * resumes on Spark without answering twice.
 */
class SparkScienceQaTest {
    static final String BUNDLE = TestData.repo().resolve("samples/demo-kit/bundle").toString();
    static SparkSession spark;
    @TempDir
    static Path dir;

    @BeforeAll
    static void start() {
        spark = SparkSession.builder().master("local[2]").appName("glimpse-eval-test")
                .config("spark.ui.enabled", "false").getOrCreate();
    }

    @AfterAll
    static void stop() {
        spark.stop();
        ExecutorModels.clear();
    }

    static ScienceQaDataset slice(int limit) {
        ScienceQaDataset d = ScienceQaDataset.load(TestData.scienceQa().resolve("questions/llava_test_CQM-A.json"),
                null, null, "test");
        return d.only(new LinkedHashSet<>(d.problems().subList(0, limit).stream().map(p -> p.id()).toList()));
    }

    static JsonNode report(EvalReport r, Path out) throws Exception {
        ReportWriter.write(r, out);
        return new ObjectMapper().readTree(out.resolve("report.json").toFile());
    }

    @Test
    void theReportFromSparkEqualsEvalRuns() throws Exception {
        ScienceQaDataset d = slice(40);
        Path images = TestData.scienceQa().resolve("images");
        Path single = dir.resolve("single");
        EvalReport want;
        try (VisionLanguageModel vlm = VisionLanguageModel.builder().model(BUNDLE).build()) {
            want = EvalRunner.run(d, images, ScienceQaContract.model(vlm, vlm.template(), new ImageLoader()),
                    EvalRunner.Scoring.LIKELIHOOD, AnswerPolicy.LLAVA, single, Progress.NONE);
        }
        Path distributed = dir.resolve("spark");
        EvalReport got = SparkScienceQa.run(spark, d, images, new SparkScienceQa.Options(ModelSpec.of(BUNDLE),
                "model", EvalRunner.Scoring.LIKELIHOOD, 3), AnswerPolicy.LLAVA, distributed, Progress.NONE);
        List<String> lines = Files.readAllLines(single.resolve("answers.jsonl"));
        assertTrue(lines.size() >= 20, "most of the slice is answered: " + lines.size());
        assertEquals(lines, Files.readAllLines(distributed.resolve("answers.jsonl")),
                "the same answers, in the same order");
        JsonNode a = report(want, single);
        JsonNode b = report(got, distributed);
        assertTrue(a.get("missing").asInt() > 0 && a.get("total").asInt() == 40, a.toString());
        for (String k : List.of("correct", "total", "accuracy", "unparseable", "missing", "by_category")) {
            assertEquals(a.get(k), b.get(k), k);
        }
        assertEquals(want.issues().size(), got.issues().size(), "missing images are named in both");
    }

    @Test
    void anInterruptedSparkRunResumesWithoutAnsweringTwice() throws Exception {
        Path out = dir.resolve("resume");
        SparkScienceQa.Options o = new SparkScienceQa.Options(ModelSpec.of(BUNDLE), "llava",
                EvalRunner.Scoring.LIKELIHOOD, 2);
        Path images = TestData.scienceQa().resolve("images");
        SparkScienceQa.run(spark, slice(10), images, o, AnswerPolicy.LLAVA, out, Progress.NONE);
        int first = Files.readAllLines(out.resolve("answers.jsonl")).size();
        long[] calls = {0};
        EvalReport r = SparkScienceQa.run(spark, slice(25), images, o, AnswerPolicy.LLAVA, out,
                (done, total, s) -> calls[0]++);
        List<String> lines = Files.readAllLines(out.resolve("answers.jsonl"));
        assertEquals(lines.size(), lines.stream().map(l -> l.substring(0, l.indexOf(','))).distinct().count(),
                "no question answered twice");
        assertTrue(lines.size() > first);
        assertEquals(25, r.total());
        assertTrue(lines.get(0).contains("Answer with the option's letter"), "the llava template, by name");
        assertThrows(BadInputException.class, () -> new SparkScienceQa.Options(ModelSpec.of(BUNDLE), "mine",
                EvalRunner.Scoring.LIKELIHOOD, 0));
    }
}
