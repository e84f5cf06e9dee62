package dev.glimpse.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CacheCommandTest {
    @Test
    void listAndClearACache(@TempDir Path dir) throws Exception {
        // the cache location comes from the environment; point HF_HUB_CACHE there through a system property hook
        Path cache = dir.resolve("hub");
        Path snap = cache.resolve("models--org--tiny/snapshots/0123456789abcdef0123456789abcdef01234567");
        Files.createDirectories(snap);
        Files.createDirectories(cache.resolve("models--org--tiny/blobs"));
        Files.writeString(cache.resolve("models--org--tiny/blobs/abc"), "0123456789");
        Files.createSymbolicLink(snap.resolve("config.json"), Path.of("../../blobs/abc"));
        CliRunner r = CliRunner.run("cache", "list", "--json", "--cache-dir", cache.toString());
        // --cache-dir is not an option of the real command: the environment decides (see below)
        assertEquals(2, r.code());
        String old = System.getProperty("glimpse.hub.cache");
        System.setProperty("glimpse.hub.cache", cache.toString());
        try {
            r = CliRunner.run("cache", "list", "--json");
            assertEquals(0, r.code(), r.err());
            JsonNode j = new ObjectMapper().readTree(r.out());
            assertEquals("org/tiny", j.get("models").get(0).get("repo").asText());
            assertEquals(10, j.get("models").get(0).get("bytes").asLong());
            r = CliRunner.run("cache", "clear", "org/nothing");
            assertEquals(2, r.code());
            r = CliRunner.run("cache", "clear", "org/tiny", "--json");
            assertEquals(0, r.code(), r.err());
            assertFalse(Files.exists(cache.resolve("models--org--tiny")));
            assertTrue(new ObjectMapper().readTree(r.out()).get("bytes_freed").asLong() >= 10);
        } finally {
            if (old == null) {
                System.clearProperty("glimpse.hub.cache");
            } else {
                System.setProperty("glimpse.hub.cache", old);
            }
        }
    }
}
