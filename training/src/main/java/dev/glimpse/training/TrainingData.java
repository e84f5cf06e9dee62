package dev.glimpse.training;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import dev.glimpse.fusion.MultimodalPrompt;
import dev.glimpse.fusion.PromptTemplate;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Training examples from the formats people have: a simple JSONL ({"image", "prompt", "answer"}) and LLaVA
 * conversation JSON (both under {@link PromptTemplate#RAW}: prompts as written, answers as written), or ScienceQA
 * (through eval's loaders, rendered by a {@link PromptTemplate}). Image
 * keys are absolute paths; bad lines are refused with file and line.
 */
public final class TrainingData {
    private static final ObjectMapper JSON = new ObjectMapper();

    private TrainingData() {}

    /** One JSON object per line: "image" (or "images": [...]) relative to the file, "prompt", "answer". */
    public static List<TrainingExample> jsonl(Path file) {
        List<TrainingExample> out = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file);
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        Path base = file.toAbsolutePath().getParent();
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i).strip();
            if (l.isEmpty()) {
                continue;
            }
            JsonNode n;
            try {
                n = JSON.readTree(l);
            } catch (IOException e) {
                throw new BadInputException(file + ":" + (i + 1) + ": not valid JSON: " + e.getMessage().split("\n")[0]);
            }
            if (!n.path("prompt").isTextual() || !n.path("answer").isTextual()) {
                throw new BadInputException(file + ":" + (i + 1) + ": needs text fields 'prompt' and 'answer'");
            }
            List<String> images = new ArrayList<>();
            if (n.hasNonNull("image")) {
                images.add(base.resolve(n.get("image").asText()).normalize().toString());
            }
            n.path("images").forEach(x -> images.add(base.resolve(x.asText()).normalize().toString()));
            String prompt = n.get("prompt").asText();
            if (!images.isEmpty() && !prompt.contains(MultimodalPrompt.IMAGE)) {
                prompt = (MultimodalPrompt.IMAGE + "\n").repeat(images.size()) + prompt;
            }
            out.add(new TrainingExample(n.path("id").asText(file.getFileName() + ":" + (i + 1)), images, prompt,
                    n.get("answer").asText()));
        }
        return out;
    }

    /** LLaVA conversation JSON: the first human turn is the prompt, the first gpt turn the answer. */
    public static List<TrainingExample> llavaConversations(Path file, Path imageRoot) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new BadInputException(file + ": not valid JSON: " + e.getMessage().split("\n")[0], e);
        }
        if (!root.isArray()) {
            throw new BadInputException(file + ": expected a JSON list of conversations");
        }
        List<TrainingExample> out = new ArrayList<>();
        int i = 0;
        for (JsonNode n : root) {
            i++;
            JsonNode conv = n.path("conversations");
            if (conv.size() < 2 || !"human".equals(conv.get(0).path("from").asText())
                    || !"gpt".equals(conv.get(1).path("from").asText())) {
                throw new BadInputException(file + ": entry " + i + " (id " + n.path("id").asText("?")
                        + ") needs a human turn followed by a gpt turn");
            }
            List<String> images = new ArrayList<>();
            if (n.hasNonNull("image")) {
                images.add(imageRoot.resolve(n.get("image").asText()).normalize().toString());
            }
            String prompt = conv.get(0).path("value").asText();
            if (!images.isEmpty() && !prompt.contains(MultimodalPrompt.IMAGE)) {
                prompt = MultimodalPrompt.IMAGE + "\n" + prompt;
            }
            out.add(new TrainingExample(n.path("id").asText(Integer.toString(i)), images, prompt,
                    conv.get(1).path("value").asText()));
        }
        return out;
    }
}
