package dev.glimpse.samples;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.TestData;
import dev.glimpse.samples.demo.DiagramDataset;
import dev.glimpse.samples.examples.ChatWithLangChain4j;
import dev.glimpse.samples.examples.EvaluateScienceQa;
import dev.glimpse.samples.examples.Quickstart;
import dev.glimpse.samples.examples.ServeAndStream;
import dev.glimpse.samples.examples.TrainAdapter;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The example programs compile with the build and run. */
class ExamplesTest {
    static String capture(Runnable r) {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true));
        try {
            r.run();
        } finally {
            System.setOut(old);
        }
        return buf.toString();
    }

    @Test
    void trainThenAsk(@TempDir Path dir) throws Exception {
        Path bundle = dir.resolve("bundle");
        String out = capture(() -> TrainAdapter.main(new String[] {bundle.toString(), "4"}));
        assertTrue(out.contains("4 steps"), out);
        assertTrue(Files.isRegularFile(bundle.resolve("bundle.json")));
        Path png = dir.resolve("x.png");
        ImageIO.write(DiagramDataset.generate(1, 2, "q").get(0).image(), "png", png.toFile());
        out = capture(() -> Quickstart.main(new String[] {bundle.toString(), png.toString(), "What color is the ball?",
            "red", "blue", "green", "yellow"}));
        assertTrue(out.matches("(?s)[ABCD]\\. (red|blue|green|yellow) .*"), out);
    }

    @Test
    void langChain4jAndStreamingFromTheServer(@TempDir Path dir) throws Exception {
        Path png = dir.resolve("x.png");
        ImageIO.write(DiagramDataset.generate(1, 2, "q").get(0).image(), "png", png.toFile());
        String bundle = TestData.model("bundle").toString();
        String out = capture(() -> {
            try {
                ChatWithLangChain4j.main(new String[] {bundle, png.toString(), "What color is the ball?"});
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?s)answer: (.*)\nstreamed:(.*)\ntokens: \\d+ in,"
                + " \\d+ out\\s*").matcher(out);
        assertTrue(m.matches(), out);
        assertTrue(m.group(1).equals(m.group(2)), "the streamed answer equals the whole one: " + out);
        out = capture(() -> {
            try {
                ServeAndStream.main(new String[] {bundle, "Once upon a time"});
            } catch (Exception e) {
                throw new AssertionError(e);
            }
        });
        assertTrue(out.contains("\"object\":\"chat.completion.chunk\"") && out.contains("data: [DONE]"), out);
    }

    @Test
    void evaluateScienceQa() {
        String out = capture(() -> EvaluateScienceQa.main(new String[] {
            TestData.scienceQa().resolve("questions/llava_test_CQM-A.json").toString(),
            TestData.scienceQa().resolve("predictions/gpt3_test_QCM-ALE_2shot_seed3.json").toString()}));
        assertTrue(out.contains("strict    3061 / 4241 = 72.18 % (249 unparseable)"), out);
    }
}
