package dev.glimpse.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {
    static final Path KIT = Path.of("demo-kit");

    @Test
    void tableAndJsonForTheDemoModel() throws Exception {
        CliRunner r = CliRunner.run("inspect", KIT.resolve("stories260k").toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("model.embed_tokens.weight"));
        assertTrue(r.out().contains("47 tensors, 260,032 parameters"));
        r = CliRunner.run("inspect", KIT.resolve("stories260k").toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(47, j.get("tensors").size());
        assertEquals(260_032, j.get("parameters").asLong());
        assertEquals("llama", j.get("config").get("model_type").asText());
        JsonNode first = j.get("tensors").get(0);
        assertEquals("F32", first.get("dtype").asText());
        assertEquals(2, first.get("shape").size());
        assertTrue(first.get("bytes").asLong() > 0);
    }

    @Test
    void singleFileAndFixtureDirectories() throws Exception {
        CliRunner r = CliRunner.run("inspect", TestData.fixture("tiny-llava").resolve("model.safetensors").toString(),
                "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("llava", j.get("config").get("model_type").asText());
    }

    @Test
    void malformedFileExitsTwoWithOneLineAndNoStackTrace(@TempDir Path dir) throws Exception {
        Path bad = dir.resolve("bad.safetensors");
        Files.write(bad, new byte[] {8, 0, 0, 0, 0, 0, 0, 0, '{', '"', 'a', '"', ':', '1', '}', ' '});
        CliRunner r = CliRunner.run("inspect", bad.toString());
        assertEquals(2, r.code());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().startsWith("error: " + bad), r.err());
        assertFalse(r.err().contains("\tat "));
        r = CliRunner.run("inspect", bad.toString(), "--verbose");
        assertTrue(r.err().contains("\tat "), "stack trace with --verbose");
    }

    @Test
    void helpAndVersion() {
        CliRunner r = CliRunner.run("--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("inspect"));
        r = CliRunner.run("--version");
        assertEquals(0, r.code());
        assertTrue(r.out().startsWith("glimpse "));
        r = CliRunner.run("inspect");
        assertEquals(2, r.code());
        r = CliRunner.run("nosuchcommand");
        assertEquals(2, r.code());
    }
}
