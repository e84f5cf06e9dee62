package dev.glimpse.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** External checks against published numbers, plus the parsing policies and the loaders' error reporting. */
class ScienceQaScoringTest {
    // looked up per test (not in static fields) so that a missing file fails one test, not the class
    Path questions() {
        return TestData.scienceQa().resolve("questions/llava_test_CQM-A.json");
    }

    Path problems() {
        return TestData.scienceQa().resolve("questions/problems_test_subset.json");
    }

    Path gpt3() {
        return TestData.scienceQa().resolve("predictions/gpt3_test_QCM-ALE_2shot_seed3.json");
    }

    @Test
    void gpt3CotPublishedOutputsUnderStrictAndRecordedResults() {
        ScienceQaDataset q = ScienceQaDataset.fromLlavaQuestions(questions());
        assertEquals(4241, q.size());
        assertTrue(q.issues().isEmpty(), q.issues().toString());
        assertEquals(2017, q.problems().stream().filter(Problem::hasImage).count());
        Predictions gpt3 = Predictions.read(gpt3());
        EvalReport strict = Scorer.scoreTexts(q, gpt3, AnswerPolicy.STRICT, 0, gpt3().toString());
        assertEquals(3061, strict.correct());
        assertEquals(4241, strict.total());
        assertEquals(249, strict.unparseable());
        EvalReport recorded = Scorer.scoreIndices(q, gpt3, gpt3().toString());
        assertEquals(3188, recorded.correct());
        assertEquals(75.17, ReportWriter.round(recorded.accuracy()));
        // from LLaVA files alone: Avg, IMG, TXT, NO, and the rest named as missing
        assertEquals(List.of("TXT", "IMG", "NO", "Avg"), List.copyOf(recorded.byCategory().keySet()));
        assertEquals(List.of("NAT", "SOC", "LAN", "G1-6", "G7-12"), recorded.missingColumns());
        assertEquals(2017, recorded.byCategory().get("IMG").total());
        assertEquals(2046, recorded.byCategory().get("TXT").total());
        // the llava policy agrees here (GPT-3 never answers with a bare letter)
        assertEquals(3061, Scorer.scoreTexts(q, gpt3, AnswerPolicy.LLAVA, 0, null).correct());
    }

    @Test
    void scienceqaPolicyFallsBackToASeededRandomChoiceAndReportsTheExpectation() {
        ScienceQaDataset q = ScienceQaDataset.fromLlavaQuestions(questions());
        Predictions gpt3 = Predictions.read(gpt3());
        EvalReport a = Scorer.scoreTexts(q, gpt3, AnswerPolicy.SCIENCEQA, 3, null);
        EvalReport b = Scorer.scoreTexts(q, gpt3, AnswerPolicy.SCIENCEQA, 3, null);
        assertEquals(a.correct(), b.correct(), "seeded");
        assertEquals(249, a.unparseable());
        assertTrue(a.correct() > 3061 && a.correct() < 3061 + 249);
        // expected accuracy: 3061 sure answers plus 1/k for each of the 249 failures
        double expected = 3061;
        for (EvalReport.QuestionResult r : a.questions()) {
            if (r.fallback()) {
                expected += 1.0 / q.get(r.id()).choices().size();
            }
        }
        assertEquals(100 * expected / 4241, a.expectedAccuracy(), 1e-9);
        assertEquals(249, a.questions().stream().filter(EvalReport.QuestionResult::fallback).count());
    }

    @Test
    void officialProblemsLoadWithFullMetadataAndAPerCategoryTable() {
        ScienceQaDataset all = ScienceQaDataset.fromProblems(problems());
        // testdata's subset of problems_partial_1_1773.json: its 361 test problems, 20 train and 20 val
        assertEquals(401, all.size());
        assertEquals(20, all.problems().stream().filter(p -> "train".equals(p.split())).count());
        assertTrue(all.hasMetadata());
        Set<String> test = all.problems().stream().filter(p -> "test".equals(p.split())).map(Problem::id)
                .collect(Collectors.toSet());
        ScienceQaDataset t = all.only(test);
        EvalReport r = Scorer.scoreIndices(t, Predictions.read(gpt3()), null);
        // an independent count over the same 361 test problems (ScienceQA's get_scores definitions)
        Map<String, int[]> expected = Map.of("NAT", new int[] {142, 186}, "SOC", new int[] {52, 74},
                "LAN", new int[] {75, 101}, "TXT", new int[] {130, 170}, "IMG", new int[] {110, 167},
                "NO", new int[] {95, 124}, "G1-6", new int[] {178, 234}, "G7-12", new int[] {91, 127},
                "Avg", new int[] {269, 361});
        assertEquals(EvalReport.COLUMNS, List.copyOf(r.byCategory().keySet()));
        expected.forEach((col, n) -> {
            assertEquals(n[0], r.byCategory().get(col).correct(), col);
            assertEquals(n[1], r.byCategory().get(col).total(), col);
        });
        assertTrue(r.missingColumns().isEmpty());
        // the pid splits select the same problems
        ScienceQaDataset viaSplits = ScienceQaDataset.fromProblems(problems(), TestData.scienceQa().resolve("pid_splits_test.json"), "test");
        assertEquals(361, viaSplits.size());
        assertEquals(4241 - 361, viaSplits.issues().size(), "test pids outside the partial file are reported");
        // LLaVA questions + problems metadata: every column
        ScienceQaDataset merged = ScienceQaDataset.fromLlavaQuestions(questions()).only(test).withMetadata(problems());
        assertTrue(merged.hasMetadata());
        assertEquals(269, Scorer.scoreIndices(merged, Predictions.read(gpt3()), null).correct());
    }

    @Test
    void llavaPolicyParsesLettersAsPublished() {
        AnswerPolicy p = AnswerPolicy.LLAVA;
        assertEquals(1, p.index("B", 3));
        assertEquals(2, p.index("C. the third one", 3));
        assertEquals(0, p.index("I think so. The answer is A.", 3));
        assertEquals(-1, p.index("The answer is A. No! The answer is B.", 3), "two matches fail");
        assertEquals(0, p.index("The answer is A. no, the answer is B.", 3), "the regex is case-sensitive");
        assertEquals(-1, p.index("D", 3), "a letter beyond the choices fails");
        assertEquals(-1, p.index("b", 3));
        assertEquals(-1, p.index(" B", 3), "LLaVA compares the text as is");
        assertEquals(-1, p.index(null, 3));
        assertEquals(-1, AnswerPolicy.STRICT.index("B", 3), "strict accepts only the regex");
        assertEquals(1, AnswerPolicy.STRICT.index("The answer is B!", 3), "'.' in the published regex is any char");
        assertEquals(-1, AnswerPolicy.STRICT.index("The answer is B", 3), "the regex needs a character after");
        assertThrows(BadInputException.class, () -> AnswerPolicy.parse("lenient"));
    }

    @Test
    void malformedAndUnknownAnswersAreReportedWithLines(@TempDir Path dir) throws Exception {
        Path answers = dir.resolve("answers.jsonl");
        Files.writeString(answers, String.join("\n",
                "{\"question_id\": \"4\", \"text\": \"B\"}",
                "{not json",
                "{\"question_id\": \"5\"}",
                "{\"question_id\": \"nope\", \"text\": \"A\"}",
                "",
                "{\"question_id\": \"4\", \"text\": \"A\"}"));
        Predictions p = Predictions.llavaAnswers(answers);
        assertEquals(3, p.issues().size());
        assertEquals(2, p.issues().get(0).line());
        assertTrue(p.issues().get(0).message().startsWith("not valid JSON"));
        assertEquals(3, p.issues().get(1).line());
        assertEquals(6, p.issues().get(2).line());
        assertTrue(p.issues().get(2).message().contains("duplicate"));
        ScienceQaDataset q = ScienceQaDataset.fromLlavaQuestions(questions());
        EvalReport r = Scorer.scoreTexts(q, p, AnswerPolicy.LLAVA, 0, answers.toString());
        assertEquals(4241 - 1, r.missing(), "only pid 4 has a usable answer");
        assertTrue(r.issues().stream().anyMatch(i -> "nope".equals(i.id()) && i.message().contains("not among")));
        assertEquals(0, r.correct(), "pid 4's gold is B; the last answer (A) is used");
    }

    @Test
    void malformedQuestionEntriesAreCountedNotDropped(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("q.json");
        Files.writeString(f, "[\n{\"id\": \"1\", \"conversations\": [{\"from\": \"human\", \"value\": \"Q?\\nA. x\\nB. y\"},"
                + " {\"from\": \"gpt\", \"value\": \"B\"}]},\n"
                + "{\"id\": \"2\", \"conversations\": [{\"from\": \"human\", \"value\": \"no options\"}]},\n"
                + "{\"id\": \"3\", \"conversations\": [{\"from\": \"human\", \"value\": \"Q\\nA. x\\nB. y\"},"
                + " {\"from\": \"gpt\", \"value\": \"C\"}]},\n"
                + "{\"conversations\": []}\n]");
        ScienceQaDataset d = ScienceQaDataset.fromLlavaQuestions(f);
        assertEquals(1, d.size());
        assertEquals(3, d.issues().size());
        assertEquals(3, d.issues().get(0).line());
        assertTrue(d.issues().get(0).message().contains("lettered options"));
        assertTrue(d.issues().get(1).message().contains("gold answer 'C'"));
        Problem p = d.get("1");
        assertEquals(List.of("x", "y"), p.choices());
        assertEquals(1, p.answer());
        assertThrows(BadInputException.class, () -> ScienceQaDataset.fromLlavaQuestions(dir.resolve("missing.json")));
    }

    @Test
    void reportsAreWrittenAsJsonMarkdownCsvAndPng(@TempDir Path dir) throws Exception {
        ScienceQaDataset q = ScienceQaDataset.fromLlavaQuestions(questions());
        EvalReport r = Scorer.scoreTexts(q, Predictions.read(gpt3()), AnswerPolicy.STRICT, 0, "gpt3");
        List<Path> files = ReportWriter.write(r, dir);
        assertEquals(4, files.size());
        String md = Files.readString(dir.resolve("report.md"));
        assertTrue(md.contains("3061 / 4241 correct = **72.18 %**; 249 unparseable"), md);
        assertTrue(md.contains("| LLaVA |") && md.contains("90.92") && md.contains("Visual Instruction Tuning"));
        assertTrue(md.contains("Columns not computed"));
        String json = Files.readString(dir.resolve("report.json"));
        assertTrue(json.contains("\"unparseable\" : 249"), json.substring(0, 200));
        assertEquals(4242, Files.readAllLines(dir.resolve("questions.csv")).stream().filter(l -> l.matches("^\\d+,.*"))
                .count() + 1, "a row per question plus the header");
        byte[] png = Files.readAllBytes(dir.resolve("accuracy_by_category.png"));
        assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G');
        Map<String, Object> s = ReportWriter.summary(r);
        assertEquals(3061, s.get("correct"));
        assertNotNull(s.get("by_category"));
        assertNull(s.get("expected_accuracy"));
        assertFalse(md.contains("Input issues"));
    }
}
