package dev.glimpse.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.TestData;
import dev.glimpse.samples.demo.DiagramDataset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvalRunCommandTest {
    @Test
    void runsAModelOverScienceQaAndResumes(@TempDir Path dir) throws Exception {
        // a quickly trained bundle on the demo kit (accuracy is not the point here)
        StringBuilder jsonl = new StringBuilder();
        for (DiagramDataset.Item it : DiagramDataset.generate(2, 9, "e")) {
            Path png = dir.resolve(it.id() + ".png");
            ImageIO.write(it.image(), "png", png.toFile());
            jsonl.append(new ObjectMapper().writeValueAsString(Map.of("image", png.getFileName().toString(), "prompt",
                    it.kind().question, "answer", it.answerText()))).append('\n');
        }
        Files.writeString(dir.resolve("d.jsonl"), jsonl.toString());
        Path bundle = dir.resolve("bundle");
        CliRunner t = CliRunner.run("train", "--vision", "demo-kit/mobilenet-v2-features", "--layer",
                "block_13_hidden_state", "--llm", "demo-kit/stories260k", "--data", dir.resolve("d.jsonl").toString(),
                "--out", bundle.toString(), "--max-steps", "1", "--json");
        assertEquals(0, t.code(), t.err());
        Path out = dir.resolve("eval");
        String[] args = {"eval", "run", "--model", bundle.toString(), "--questions",
            TestData.scienceQa().resolve("questions/llava_test_CQM-A.json").toString(), "--images",
            TestData.scienceQa().resolve("images").toString(), "--limit", "12", "--out", out.toString(), "--json"};
        CliRunner r = CliRunner.run(args);
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(12, j.get("total").asInt());
        long answered = Files.readAllLines(out.resolve("answers.jsonl")).size();
        // ScienceQA's convention: a question without an answer (here: its image is not in testdata) counts as wrong
        assertTrue(j.get("missing").asInt() > 0 && answered > 0, r.out());
        assertTrue(j.get("correct").asInt() <= answered);
        assertEquals(100.0 * j.get("correct").asInt() / 12, j.get("accuracy").asDouble(), 0.005);
        assertEquals(12 - j.get("missing").asInt(), answered);
        assertTrue(Files.isRegularFile(out.resolve("report.md")));
        // again: nothing new to answer, same numbers
        CliRunner again = CliRunner.run(args);
        assertEquals(0, again.code(), again.err());
        assertEquals(j.get("correct").asInt(), new ObjectMapper().readTree(again.out()).get("correct").asInt());
        assertEquals(answered, Files.readAllLines(out.resolve("answers.jsonl")).size());
    }

    @Test
    void evalRunRendersWithTheBundlesTemplateUnlessTold(@TempDir Path dir) throws Exception {
        // the demo-kit bundle was trained on "<image>\nQuestion: {question}\nAnswer:" with choices scored by their text
        for (String template : new String[] {"model", "llava"}) {
            Path out = dir.resolve(template);
            CliRunner r = CliRunner.run("eval", "run", "--model", "demo-kit/bundle", "--questions",
                    TestData.scienceQa().resolve("questions/llava_test_CQM-A.json").toString(), "--images",
                    TestData.scienceQa().resolve("images").toString(), "--limit", "2", "--template", template,
                    "--out", out.toString(), "--json");
            assertEquals(0, r.code(), r.err());
            String prompt = new ObjectMapper().readTree(Files.readAllLines(out.resolve("answers.jsonl")).get(0))
                    .get("prompt").asText();
            if (template.equals("model")) {
                assertTrue(prompt.startsWith("Question: ") && prompt.endsWith("\nAnswer:"), prompt);
            } else {
                assertTrue(prompt.endsWith("\nAnswer with the option's letter from the given choices directly."),
                        prompt);
            }
        }
    }

    @Test
    void evalRunOnSparkWritesTheSameAnswersAndReport(@TempDir Path dir) throws Exception {
        String[] base = {"eval", "run", "--model", "demo-kit/bundle", "--questions",
            TestData.scienceQa().resolve("questions/llava_test_CQM-A.json").toString(), "--images",
            TestData.scienceQa().resolve("images").toString(), "--limit", "12", "--json", "--out"};
        CliRunner one = CliRunner.run(concat(base, dir.resolve("one").toString()));
        assertEquals(0, one.code(), one.err());
        CliRunner spark = CliRunner.run(concat(base, dir.resolve("spark").toString(), "--spark", "local[2]"));
        assertEquals(0, spark.code(), spark.err());
        assertEquals(Files.readAllLines(dir.resolve("one/answers.jsonl")),
                Files.readAllLines(dir.resolve("spark/answers.jsonl")));
        JsonNode a = new ObjectMapper().readTree(one.out());
        JsonNode b = new ObjectMapper().readTree(spark.out());
        assertEquals(a, b, "the same --json summary");
        assertEquals(new ObjectMapper().readTree(dir.resolve("one/report.json").toFile()).get("by_category"),
                new ObjectMapper().readTree(dir.resolve("spark/report.json").toFile()).get("by_category"));
    }

    static String[] concat(String[] a, String... b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
