package dev.glimpse.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalScoreCommandTest {
    // looked up per test (not in static fields) so that a missing file fails one test, not the class
    String questions() {
        return TestData.scienceQa().resolve("questions/llava_test_CQM-A.json").toString();
    }

    String gpt3() {
        return TestData.scienceQa().resolve("predictions/gpt3_test_QCM-ALE_2shot_seed3.json").toString();
    }

    @Test
    void strictAndRecordedAsJson(@TempDir Path out) throws Exception {
        CliRunner r = CliRunner.run("eval", "score", "--questions", questions(), "--answers", gpt3(), "--policy", "strict",
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(3061, j.get("correct").asInt());
        assertEquals(4241, j.get("total").asInt());
        assertEquals(249, j.get("unparseable").asInt());
        assertTrue(j.get("by_category").has("IMG"));
        r = CliRunner.run("eval", "score", "--questions", questions(), "--answers", gpt3(), "--policy", "recorded",
                "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("3188 / 4241 correct = 75.17 %"), r.out());
        assertTrue(r.out().contains("LLaVA 90.92"));
        assertTrue(Files.isRegularFile(out.resolve("accuracy_by_category.png")));
    }

    @Test
    void withProblemsMetadataAndBadPolicy() {
        CliRunner r = CliRunner.run("eval", "score", "--questions",
                TestData.scienceQa().resolve("questions/problems_test_subset.json").toString(), "--splits",
                TestData.scienceQa().resolve("pid_splits_test.json").toString(), "--answers", gpt3(), "--policy", "recorded", "--json");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\"NAT\""), r.out());
        r = CliRunner.run("eval", "score", "--questions", questions(), "--answers", gpt3(), "--policy", "lenient");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown answer policy 'lenient'"));
        r = CliRunner.run("eval", "score", "--questions", "/nonexistent.json", "--answers", gpt3());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("/nonexistent.json: file not found"), r.err());
    }
}
