package dev.glimpse.samples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.samples.demo.DiagramDataset;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainCommandTest {
    /** The items as PNGs beside a JSONL file of {image, prompt: question + suffix, answer: prefix + answer}. */
    static Path writeJsonl(Path dir, List<DiagramDataset.Item> items, String promptSuffix, String answerPrefix)
            throws java.io.IOException {
        StringBuilder jsonl = new StringBuilder();
        for (DiagramDataset.Item it : items) {
            Path png = dir.resolve(it.id() + ".png");
            ImageIO.write(it.image(), "png", png.toFile());
            jsonl.append(new ObjectMapper().writeValueAsString(java.util.Map.of("image", png.getFileName().toString(),
                    "prompt", it.question() + promptSuffix, "answer", answerPrefix + it.answerText()))).append('\n');
        }
        Path data = dir.resolve("data.jsonl");
        Files.writeString(data, jsonl.toString());
        return data;
    }

    @Test
    void jsonlTrainingWritesAnAdapterBundleAndResumes(@TempDir Path dir) throws Exception {
        List<DiagramDataset.Item> items = DiagramDataset.generate(6, 3, "t");
        Path data = writeJsonl(dir, items, "", "");
        Path out = dir.resolve("run");
        String[] args = {"train", "--vision", "demo-kit/mobilenet-v2-features", "--layer", "block_13_hidden_state",
            "--llm", "demo-kit/stories260k", "--data", data.toString(), "--out", out.toString(), "--max-steps", "6",
            "--batch-size", "4", "--checkpoint-every", "2", "--eval-every", "3", "--json"};
        CliRunner r = CliRunner.run(args);
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(6, j.get("steps").asInt());
        assertEquals(23, j.get("examples").asInt());
        assertEquals(1, j.get("heldout").asInt());
        assertTrue(Files.isRegularFile(out.resolve("adapter/adapter.safetensors")));
        assertTrue(Files.readString(out.resolve("adapter/projector_config.json")).contains("block_13_hidden_state"));
        assertTrue(Files.isRegularFile(out.resolve("bundle.json")));
        assertTrue(Files.readString(out.resolve("metrics.jsonl")).contains("heldout_loss"));
        // resuming a finished run changes nothing and says so
        String[] resume = java.util.Arrays.copyOf(args, args.length + 1);
        resume[args.length] = "--resume";
        r = CliRunner.run(resume);
        assertEquals(0, r.code(), r.err());
        assertEquals(6, new ObjectMapper().readTree(r.out()).get("steps").asInt());
        // the run directory is a bundle
        CliRunner ask = CliRunner.run("ask", "--model", out.toString(), "--image",
                dir.resolve(items.get(0).id() + ".png").toString(), "--question", "What color is the ball?",
                "--choices", "red|blue", "--json");
        assertEquals(0, ask.code(), ask.err());
        assertTrue(new ObjectMapper().readTree(ask.out()).has("probabilities"));
    }

    @Test
    void loraAndAdaptionPromptsTrainIntoTheBundle(@TempDir Path dir) throws Exception {
        List<DiagramDataset.Item> items = DiagramDataset.generate(3, 5, "l");
        Path data = writeJsonl(dir, items, " Answer:", " ");
        Path out = dir.resolve("run");
        String[] args = {"train", "--vision", "demo-kit/mobilenet-v2-features", "--layer", "block_13_hidden_state",
            "--llm", "demo-kit/stories260k", "--data", data.toString(), "--out", out.toString(), "--max-steps", "4",
            "--batch-size", "4", "--checkpoint-every", "2", "--lora-r", "4", "--lora-targets", "all-linear",
            "--adaption-prompt", "3", "--adapter-layers", "2", "--llm-lr", "1e-2", "--json"};
        CliRunner r = CliRunner.run(args);
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(4, j.get("steps").asInt());
        // stories260k: 5 layers x 7 linear layers x (A + B) at r = 4, plus 2 layers x (3 x 64 prompt + gate)
        assertTrue(j.get("llm_adapter_parameters").asLong() > 0);
        JsonNode lora = new ObjectMapper().readTree(out.resolve("llm_adapter/lora/adapter_config.json").toFile());
        assertEquals("LORA", lora.get("peft_type").asText());
        assertEquals(7, lora.get("target_modules").size());
        JsonNode prompt = new ObjectMapper().readTree(out.resolve("llm_adapter/adaption_prompt/adapter_config.json")
                .toFile());
        assertEquals("ADAPTION_PROMPT", prompt.get("peft_type").asText());
        assertEquals(3, prompt.get("adapter_len").asInt());
        JsonNode bundle = new ObjectMapper().readTree(out.resolve("bundle.json").toFile());
        assertEquals("llm_adapter", bundle.get("llm_adapter").asText());
        assertEquals("{question}", bundle.get("prompt_template").asText(), "JSONL data is trained as written");
        // resuming with other adapter settings is refused by name rather than silently dropping the adapters
        String[] other = java.util.Arrays.copyOf(args, args.length + 1);
        other[other.length - 1] = "--resume";
        other[java.util.Arrays.asList(other).indexOf("--adaption-prompt") + 1] = "0";
        r = CliRunner.run(other);
        assertEquals(2, r.code());
        assertTrue(r.err().contains("adaption_prompt"), r.err());
        // the bundle answers with its adapters, and the LoRA alone drives a text model
        CliRunner ask = CliRunner.run("ask", "--model", out.toString(), "--image",
                dir.resolve(items.get(0).id() + ".png").toString(), "--question", items.get(0).question() + " Answer:",
                "--choices", "red|blue", "--json");
        assertEquals(0, ask.code(), ask.err());
        CliRunner gen = CliRunner.run("generate", "--model", "demo-kit/stories260k", "--lora",
                out.resolve("llm_adapter/lora").toString(), "--input-ids", "1,403,407", "--max-new-tokens", "4",
                "--json");
        assertEquals(0, gen.code(), gen.err());
        CliRunner wrong = CliRunner.run("generate", "--model", "demo-kit/stories260k", "--lora",
                out.resolve("adapter").toString(), "--input-ids", "1,403");
        assertEquals(2, wrong.code());
        assertTrue(wrong.err().contains("adapter_config.json"), wrong.err());
    }

    @Test
    void badDataAndDurations(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("bad.jsonl");
        Files.writeString(data, "{\"prompt\": \"x\"}\n");
        CliRunner r = CliRunner.run("train", "--vision", "demo-kit/mobilenet-v2-features", "--llm", "demo-kit/stories260k",
                "--data", data.toString(), "--out", dir.resolve("o").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("bad.jsonl:1: needs text fields 'prompt' and 'answer'"), r.err());
        assertEquals(Duration.ofHours(1), TrainCommand.parseDuration("1h"));
        assertEquals(Duration.ofSeconds(90), TrainCommand.parseDuration("90s"));
        assertEquals(Duration.ofMinutes(30), TrainCommand.parseDuration("30m"));
    }

    @Test
    void precisionAndDeviceFlagsRefuseWhatCannotRunInOneLine(@TempDir Path dir) throws Exception {
        Path data = writeJsonl(dir, DiagramDataset.generate(1, 9, "p"), "", "");
        String[] base = {"train", "--vision", "demo-kit/mobilenet-v2-features", "--layer", "block_13_hidden_state",
            "--llm", "demo-kit/stories260k", "--data", data.toString(), "--out", dir.resolve("o").toString(),
            "--max-steps", "1"};
        java.util.function.Function<String[], CliRunner> with = extra -> {
            String[] a = java.util.Arrays.copyOf(base, base.length + extra.length);
            System.arraycopy(extra, 0, a, base.length, extra.length);
            return CliRunner.run(a);
        };
        CliRunner r = with.apply(new String[] {"--device", "cpu", "--dtype", "fp16"});
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--dtype fp16 trains on a GPU only") && r.err().contains("use --dtype fp32"), r.err());
        r = with.apply(new String[] {"--dtype", "fp8"});
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--dtype: expected fp32, fp16 or bf16, got 'fp8'"), r.err());
        r = with.apply(new String[] {"--device", "tpu"});
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--device 'tpu': expected cpu or gpu"), r.err());
        if (ai.djl.engine.Engine.getEngine("PyTorch").getGpuCount() == 0) {
            r = with.apply(new String[] {"--device", "gpu"});
            assertEquals(2, r.code());
            assertTrue(r.err().contains("--device gpu: libtorch sees no GPU"), r.err());
        }
        if (!dev.glimpse.core.Precision.bfloat16Available()) {
            r = with.apply(new String[] {"--device", "cpu", "--dtype", "bf16"});
            assertEquals(2, r.code());
            assertTrue(r.err().contains("bf16 needs DJL's PyTorch JNI built with Glimpse's extension"), r.err());
        }
        // the default on the CPU is fp32, and the summary says what ran
        r = with.apply(new String[] {"--json"});
        assertEquals(0, r.code(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals("fp32", j.get("dtype").asText());
    }
}
