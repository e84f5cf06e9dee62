package dev.glimpse.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command, end to end: real frozen models, a trained adapter, held-out accuracy. */
class DemoCommandTest {
    @Test
    void demoMeetsItsAccuracyTargetsAndWritesEverything(@TempDir Path out) throws Exception {
        CliRunner r = CliRunner.run("demo", "--out", out.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        double acc = j.get("accuracy").asDouble();
        double blind = j.get("blind_accuracy").asDouble();
        assertTrue(acc >= 0.88, "held-out accuracy " + acc);
        // per kind (seed 1; README gives the spread over seeds 1-3): the position embedding made position robust
        JsonNode byKind = new ObjectMapper().readTree(out.resolve("report.json").toFile()).get("table").get(0)
                .get("byKind");
        assertTrue(byKind.get("position").asDouble() >= 0.90, "position " + byKind);
        assertTrue(byKind.get("color").asDouble() >= 0.90, "color " + byKind);
        assertTrue(byKind.get("count").asDouble() >= 0.70, "count " + byKind);
        // the in-LLM adapters: rows 1 and 2 (seed 1 here: LoRA 99.0 %, LLaMA-Adapter 100 %, count 96 and 100 % against
        // the projector's 82 %); the weakest kind must improve with at least one of them
        JsonNode table = new ObjectMapper().readTree(out.resolve("report.json").toFile()).get("table");
        assertEquals(List.of("adapter + image", "adapter + LoRA", "adapter + LLaMA-Adapter", "adapter, image blanked",
                "chance"), java.util.stream.StreamSupport.stream(table.spliterator(), false)
                .map(t -> t.get("name").asText()).toList());
        double lora = table.get(1).get("overall").asDouble();
        double llamaAdapter = table.get(2).get("overall").asDouble();
        assertTrue(lora >= 0.90 && llamaAdapter >= 0.90, "LoRA " + lora + ", LLaMA-Adapter " + llamaAdapter);
        double bestCount = Math.max(table.get(1).get("byKind").get("count").asDouble(),
                table.get(2).get("byKind").get("count").asDouble());
        assertTrue(bestCount >= 0.90 && bestCount > byKind.get("count").asDouble(), "count: projector "
                + byKind.get("count") + ", best in-LLM adapter " + bestCount);
        assertTrue(Files.isRegularFile(out.resolve("training-lora/llm_adapter/lora/adapter_config.json")));
        assertTrue(Files.isRegularFile(out.resolve("training-llama-adapter/llm_adapter/adaption_prompt/"
                + "adapter_model.safetensors")));
        assertTrue(acc - blind >= 0.30, "accuracy " + acc + " vs image-blind " + blind);
        assertEquals(0.3542, j.get("chance").asDouble(), 1e-3);
        assertTrue(j.get("seconds").asDouble() > 0);
        Path bundle = Path.of(j.get("bundle").asText());
        assertTrue(Files.isRegularFile(bundle.resolve("bundle.json")));
        assertTrue(Files.isRegularFile(bundle.resolve("adapter/adapter.safetensors")));
        assertTrue(Files.isRegularFile(bundle.resolve("adapter/projector_config.json")));
        assertTrue(Files.readString(out.resolve("report.md")).contains("adapter, image blanked"));
        assertTrue(Files.size(out.resolve("accuracy_by_kind.png")) > 1000);
        assertTrue(Files.size(out.resolve("training/loss_curve.png")) > 1000);
        assertTrue(Files.isRegularFile(out.resolve("report.json")));
        try (var s = Files.list(out.resolve("samples"))) {
            assertEquals(3, s.count());
        }
        // the saved bundle answers like the demo did
        Path sample = out.resolve("samples/sample-color-0.png");
        CliRunner ask = CliRunner.run("ask", "--model", bundle.toString(), "--image", sample.toString(), "--question",
                "What color is the ball?", "--choices", "red|blue|green|yellow", "--json");
        assertEquals(0, ask.code(), ask.err());
        JsonNode a = new ObjectMapper().readTree(ask.out());
        assertEquals("green", a.get("answer").asText());
        assertEquals("C", a.get("letter").asText());
        assertEquals(1.0, a.get("probabilities").get("A").asDouble() + a.get("probabilities").get("B").asDouble()
                + a.get("probabilities").get("C").asDouble() + a.get("probabilities").get("D").asDouble(), 1e-6);
    }
}
