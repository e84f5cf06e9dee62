package dev.glimpse.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** glimpse export: the demo bundle's ONNX tower is refused with the alternative; bad sizes and types are exit 2. */
class ExportCommandTest {
    @Test
    void theDemoBundleIsRefusedByNameAndNothingIsWritten(@TempDir Path dir) {
        Path kit = TestData.repo().resolve("samples/demo-kit");
        CliRunner r = CliRunner.run("export", "--model", kit.resolve("bundle").toString(), "--out",
                dir.resolve("x").toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains("no safetensors checkpoint") && r.err().contains("--format peft"), r.err());
        assertTrue(!Files.exists(dir.resolve("x")));
        r = CliRunner.run("export", "--model", kit.resolve("bundle").toString(), "--out", dir.resolve("y").toString(),
                "--max-shard", "lots");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--max-shard 'lots'"), r.err());
        assertEquals(5_000_000_000L, ExportCommand.bytes("5GB"));
        assertEquals(64_000L, ExportCommand.bytes("64 kb"));
        assertTrue(!Files.exists(dir.resolve(Checkpoint.SINGLE)));
    }
}
