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

class FeaturesCommandTest {
    @Test
    void directoryAndListFileWithFailuresListed(@TempDir Path dir) throws Exception {
        Path list = dir.resolve("list.txt");
        Path bad = dir.resolve("bad.png");
        Files.writeString(bad, "not an image");
        Files.writeString(list, TestData.fixture("images").resolve("sqa_10555.png") + "\n# comment\nbad.png\n");
        CliRunner r = CliRunner.run("features", "--vision", TestData.fixture("tiny-clip-vision").toString(),
                "--images", list.toString(), "--out", dir.resolve("cache").toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(2, j.get("images").asInt());
        assertEquals(1, j.get("encoded").asInt());
        assertEquals(1, j.get("failed").size());
        assertTrue(j.get("failed").get(0).get("image").asText().endsWith("bad.png"));
        assertTrue(j.has("images_per_s"));
        r = CliRunner.run("features", "--vision", TestData.fixture("tiny-siglip-vision").toString(), "--layer", "-1",
                "--images", TestData.fixture("images").toString(), "--out", dir.resolve("cache").toString(), "--json");
        assertEquals(0, r.code(), r.err());
        assertEquals(6, new ObjectMapper().readTree(r.out()).get("encoded").asInt());
        r = CliRunner.run("features", "--vision", "demo-kit/mobilenet-v2-features", "--layer", "nope", "--images",
                TestData.fixture("images").toString(), "--out", dir.resolve("c2").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("no output 'nope'"), r.err());
    }
}
