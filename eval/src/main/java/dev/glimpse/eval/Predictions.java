package dev.glimpse.eval;

import com.fasterxml.jackson.databind.JsonNode;
import dev.glimpse.core.BadInputException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A model's answers: raw output text per question id and, where a file records them, predicted choice indices.
 * Reads LLaVA answer files (JSONL with question_id and text) and ScienceQA result files ({outputs, results}).
 */
public final class Predictions {
    private final Map<String, String> texts;
    private final Map<String, Integer> indices;
    private final List<LoadIssue> issues;

    public Predictions(Map<String, String> texts, Map<String, Integer> indices, List<LoadIssue> issues) {
        this.texts = Collections.unmodifiableMap(new LinkedHashMap<>(texts));
        this.indices = Collections.unmodifiableMap(new LinkedHashMap<>(indices));
        this.issues = List.copyOf(issues);
    }

    /** Reads either format, chosen by content: a JSON object with "outputs" or JSON lines. */
    public static Predictions read(Path file) {
        if (ScienceQaDataset.firstChar(file) == '{') {
            JsonNode root;
            try {
                root = ScienceQaDataset.JSON.readTree(file.toFile());
                if (root.has("outputs") || root.has("results")) {
                    return scienceQaResults(file);
                }
            } catch (IOException e) {
                // not one JSON document: JSON lines
            }
        }
        return llavaAnswers(file);
    }

    /** LLaVA answer file: one JSON object per line with "question_id" and "text". */
    public static Predictions llavaAnswers(Path file) {
        Map<String, String> texts = new LinkedHashMap<>();
        List<LoadIssue> issues = new ArrayList<>();
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (java.nio.file.NoSuchFileException e) {
            throw new BadInputException(file + ": file not found");
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + e.getMessage(), e);
        }
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i).strip();
            if (l.isEmpty()) {
                continue;
            }
            try {
                JsonNode n = ScienceQaDataset.JSON.readTree(l);
                JsonNode id = n.get("question_id");
                JsonNode text = n.get("text");
                if (id == null || id.isNull() || text == null || !text.isTextual()) {
                    issues.add(new LoadIssue(file, i + 1, id == null ? null : id.asText(),
                            "line needs 'question_id' and a text 'text'"));
                    continue;
                }
                if (texts.put(id.asText(), text.asText()) != null) {
                    issues.add(new LoadIssue(file, i + 1, id.asText(), "duplicate question_id: the last answer is used"));
                }
            } catch (IOException e) {
                issues.add(new LoadIssue(file, i + 1, null, "not valid JSON: " + e.getMessage().split("\n")[0]));
            }
        }
        return new Predictions(texts, Map.of(), issues);
    }

    /** ScienceQA result file: {"outputs": {pid: text}, "results": {pid: predicted index}}. */
    public static Predictions scienceQaResults(Path file) {
        JsonNode root = ScienceQaDataset.readTree(file);
        Map<String, String> texts = new LinkedHashMap<>();
        Map<String, Integer> idx = new LinkedHashMap<>();
        List<LoadIssue> issues = new ArrayList<>();
        root.path("outputs").fields().forEachRemaining(e -> texts.put(e.getKey(), e.getValue().asText()));
        root.path("results").fields().forEachRemaining(e -> {
            if (e.getValue().isIntegralNumber()) {
                idx.put(e.getKey(), e.getValue().asInt());
            } else {
                issues.add(new LoadIssue(file, 0, e.getKey(), "results value is not an index: " + e.getValue()));
            }
        });
        if (texts.isEmpty() && idx.isEmpty()) {
            throw new BadInputException(file + ": no 'outputs' or 'results' in the result file");
        }
        return new Predictions(texts, idx, issues);
    }

    public Map<String, String> texts() {
        return texts;
    }

    public Map<String, Integer> indices() {
        return indices;
    }

    public List<LoadIssue> issues() {
        return issues;
    }
}
