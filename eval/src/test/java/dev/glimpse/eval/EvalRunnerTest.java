package dev.glimpse.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.Progress;
import dev.glimpse.core.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalRunnerTest {
    /** Knows the gold answers of even pids: likelihood peaks at the gold letter there, at A elsewhere. */
    static final class Oracle implements EvalRunner.Model {
        final ScienceQaDataset data;
        final AtomicInteger calls = new AtomicInteger();
        Path lastImage;

        Oracle(ScienceQaDataset data) {
            this.data = data;
        }

        @Override
        public String prompt(Problem p) {
            return "Q" + p.id();
        }

        @Override
        public String generate(Problem p, Path image) {
            calls.incrementAndGet();
            return "The answer is B.";
        }

        @Override
        public double[] score(Problem p, Path image) {
            calls.incrementAndGet();
            lastImage = image;
            assertTrue(p.hasImage() == (image != null), "an image problem gets its image");
            double[] s = new double[p.choices().size()];
            int target = Integer.parseInt(p.id()) % 2 == 0 ? p.answer() : 0;
            s[target] = 1;
            return s;
        }
    }

    @Test
    void likelihoodRunIsScoredAndResumable(@TempDir Path out) throws Exception {
        ScienceQaDataset all = ScienceQaDataset.fromLlavaQuestions(TestData.scienceQa()
                .resolve("questions/llava_test_CQM-A.json"));
        // 40 questions whose images are in testdata/scienceqa (five pids divisible by 4) or that have none
        List<Problem> chosen = all.problems().stream().filter(p -> !p.hasImage() || Integer.parseInt(p.id()) % 4 == 0)
                .limit(40).toList();
        ScienceQaDataset d = all.only(new LinkedHashSet<>(chosen.stream().map(Problem::id).toList()));
        Path images = TestData.scienceQa().resolve("images/test");
        Oracle model = new Oracle(d);
        EvalReport r = EvalRunner.run(d, images, model, EvalRunner.Scoring.LIKELIHOOD, AnswerPolicy.LLAVA, out,
                Progress.NONE);
        assertEquals(40, r.total());
        long expected = chosen.stream().filter(p -> Integer.parseInt(p.id()) % 2 == 0 || p.answer() == 0).count();
        assertEquals(expected, r.correct());
        assertEquals(0, r.unparseable());
        assertEquals(40, model.calls.get());
        assertEquals(40, Files.readAllLines(out.resolve("answers.jsonl")).size());
        assertTrue(Files.readAllLines(out.resolve("answers.jsonl")).get(0).contains("\"prompt\":\"Q" + chosen.get(0).id()),
                "answers.jsonl records the model's own prompt");
        // a restart skips everything already answered
        Oracle again = new Oracle(d);
        EvalReport r2 = EvalRunner.run(d, images, again, EvalRunner.Scoring.LIKELIHOOD, AnswerPolicy.LLAVA, out,
                Progress.NONE);
        assertEquals(0, again.calls.get());
        assertEquals(r.correct(), r2.correct());
        // an image problem's image is found
        Problem img = chosen.stream().filter(Problem::hasImage).findFirst().orElseThrow();
        assertTrue(Files.isRegularFile(ScienceQaDataset.imagePath(img, images)));
    }

    @Test
    void generationIsParsedAndMissingImagesAreCounted(@TempDir Path out) {
        ScienceQaDataset all = ScienceQaDataset.fromLlavaQuestions(TestData.scienceQa()
                .resolve("questions/llava_test_CQM-A.json"));
        // image questions whose images testdata/scienceqa does not hold
        List<Problem> missing = all.problems().stream().filter(p -> p.hasImage() && !Files.isRegularFile(
                ScienceQaDataset.imagePath(p, TestData.scienceQa().resolve("images/test")))).limit(3).toList();
        ScienceQaDataset d = all.only(new LinkedHashSet<>(missing.stream().map(Problem::id).toList()));
        Oracle model = new Oracle(d);
        EvalReport r = EvalRunner.run(d, TestData.scienceQa().resolve("images/test"), model,
                EvalRunner.Scoring.GENERATE, AnswerPolicy.LLAVA, out, Progress.NONE);
        assertEquals(3, r.missing());
        assertEquals(0, model.calls.get());
        assertEquals(3, r.issues().stream().filter(i -> i.message().startsWith("image missing")).count());
        assertNull(r.expectedAccuracy());
    }

    @Test
    void aQuestionTheModelRefusesIsCountedAndTheRunGoesOn(@TempDir Path out) {
        ScienceQaDataset all = ScienceQaDataset.fromLlavaQuestions(TestData.scienceQa()
                .resolve("questions/llava_test_CQM-A.json"));
        List<Problem> text = all.problems().stream().filter(p -> !p.hasImage()).limit(5).toList();
        ScienceQaDataset d = all.only(new LinkedHashSet<>(text.stream().map(Problem::id).toList()));
        String refused = text.get(2).id();
        EvalRunner.Model m = new EvalRunner.Model() {
            @Override
            public String prompt(Problem p) {
                return p.question();
            }

            @Override
            public String generate(Problem p, Path image) {
                return "A";
            }

            @Override
            public double[] score(Problem p, Path image) {
                if (p.id().equals(refused)) {
                    throw new dev.glimpse.core.BadInputException("sequence of 600 tokens is longer than 512");
                }
                return new double[p.choices().size()];
            }
        };
        EvalReport r = EvalRunner.run(d, out, m, EvalRunner.Scoring.LIKELIHOOD, AnswerPolicy.LLAVA, out,
                Progress.NONE);
        assertEquals(5, r.total());
        assertEquals(1, r.missing());
        assertTrue(r.issues().stream().anyMatch(i -> refused.equals(i.id()) && i.message().contains("longer than")));
    }
}
