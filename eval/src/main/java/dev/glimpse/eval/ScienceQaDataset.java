package dev.glimpse.eval;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiConsumer;

/**
 * ScienceQA problems from the official {@code problems.json} (+ {@code pid_splits.json}) or from a LLaVA question
 * file ({@code llava_test_CQM-A.json}). Entries that cannot be used are kept as {@link LoadIssue}s with file and
 * line, never dropped silently.
 */
public final class ScienceQaDataset {
    static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, Problem> problems;
    private final List<LoadIssue> issues;
    private final boolean metadata;

    private ScienceQaDataset(Map<String, Problem> problems, List<LoadIssue> issues, boolean metadata) {
        this.problems = Collections.unmodifiableMap(problems);
        this.issues = List.copyOf(issues);
        this.metadata = metadata;
    }

    /**
     * Questions from either format, chosen by content: a JSON list is a LLaVA question file (enriched with
     * {@code problems} when given), a JSON object an official problems.json (restricted to {@code split} of
     * {@code splits} when given).
     */
    public static ScienceQaDataset load(Path questions, Path problems, Path splits, String split) {
        if (firstChar(questions) == '[') {
            ScienceQaDataset d = fromLlavaQuestions(questions);
            return problems != null ? d.withMetadata(problems) : d;
        }
        return splits != null ? fromProblems(questions, splits, split) : fromProblems(questions);
    }

    /** The first non-blank character of a file (-1 when empty): enough to tell JSON lists, objects and lines apart. */
    static int firstChar(Path file) {
        try (java.io.Reader r = Files.newBufferedReader(file, java.nio.charset.StandardCharsets.UTF_8)) {
            int c;
            do {
                c = r.read();
            } while (c != -1 && Character.isWhitespace(c));
            return c;
        } catch (NoSuchFileException e) {
            throw new BadInputException(file + ": file not found");
        } catch (IOException e) {
            throw new BadInputException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Every problem of an official problems.json. */
    public static ScienceQaDataset fromProblems(Path problemsJson) {
        return fromProblems(problemsJson, null, null);
    }

    /**
     * The problems of {@code split} (e.g. "test", "minitest") as listed in {@code pidSplits}; pids of the split missing
     * from the problems file are reported as issues.
     */
    public static ScienceQaDataset fromProblems(Path problemsJson, Path pidSplits, String split) {
        Map<String, Problem> all = new LinkedHashMap<>();
        List<LoadIssue> issues = new ArrayList<>();
        forEachEntry(problemsJson, true, (line, e) -> {
            String id = e.getKey();
            try {
                all.put(id, parseProblem(id, e.getValue()));
            } catch (IllegalArgumentException ex) {
                issues.add(new LoadIssue(problemsJson, line, id, ex.getMessage()));
            }
        });
        if (pidSplits == null || split == null) {
            return new ScienceQaDataset(all, issues, true);
        }
        JsonNode splits = readTree(pidSplits);
        JsonNode pids = splits.get(split);
        if (pids == null || !pids.isArray()) {
            throw new BadInputException(pidSplits + ": no split '" + split + "' (has " + names(splits) + ")");
        }
        Map<String, Problem> chosen = new LinkedHashMap<>();
        for (JsonNode pid : pids) {
            Problem p = all.get(pid.asText());
            if (p == null) {
                issues.add(new LoadIssue(problemsJson, 0, pid.asText(), "pid of split '" + split
                        + "' is not in the problems file"));
            } else {
                chosen.put(p.id(), p);
            }
        }
        return new ScienceQaDataset(chosen, issues, true);
    }

    private static String names(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return String.join(", ", out);
    }

    static Problem parseProblem(String id, JsonNode n) {
        if (!n.isObject()) {
            throw new IllegalArgumentException("expected an object");
        }
        JsonNode q = n.get("question");
        JsonNode c = n.get("choices");
        JsonNode a = n.get("answer");
        if (q == null || !q.isTextual()) {
            throw new IllegalArgumentException("field 'question' is missing or not text");
        }
        if (c == null || !c.isArray() || c.size() < 2 || c.size() > 26) {
            throw new IllegalArgumentException("field 'choices' must be a list of 2 to 26 options");
        }
        List<String> choices = new ArrayList<>();
        c.forEach(x -> choices.add(x.asText()));
        if (a == null || !a.isIntegralNumber() || a.asInt() < 0 || a.asInt() >= choices.size()) {
            throw new IllegalArgumentException("field 'answer' must index one of the " + choices.size() + " choices");
        }
        return new Problem(id, q.asText(), choices, a.asInt(), text(n, "hint", ""), text(n, "image", null),
                text(n, "task", null), text(n, "grade", null), text(n, "subject", null), text(n, "topic", null),
                text(n, "category", null), text(n, "skill", null), text(n, "lecture", ""), text(n, "solution", ""),
                text(n, "split", null), text(n, "caption", null), null);
    }

    private static String text(JsonNode n, String field, String dflt) {
        JsonNode v = n.get(field);
        return v == null || v.isNull() ? dflt : v.asText();
    }

    /**
     * A LLaVA question file: a JSON list of {id, image?, conversations: [human prompt, gpt answer letter]}. The
     * choices are read from the prompt's trailing "A. …" lines; TXT/IMG/NO follow from "Context:" and "image".
     */
    public static ScienceQaDataset fromLlavaQuestions(Path file) {
        Map<String, Problem> out = new LinkedHashMap<>();
        List<LoadIssue> issues = new ArrayList<>();
        forEachEntry(file, false, (line, e) -> {
            JsonNode n = e.getValue();
            String id = n.path("id").asText(null);
            try {
                if (id == null) {
                    throw new IllegalArgumentException("entry has no 'id'");
                }
                JsonNode conv = n.get("conversations");
                if (conv == null || !conv.isArray() || conv.size() < 1) {
                    throw new IllegalArgumentException("entry has no 'conversations'");
                }
                String prompt = conv.get(0).path("value").asText();
                String gold = conv.size() > 1 ? conv.get(1).path("value").asText().trim() : "";
                String image = n.hasNonNull("image") ? n.get("image").asText() : null;
                Problem p = parseLlavaPrompt(id, prompt, gold, image);
                if (out.put(id, p) != null) {
                    throw new IllegalArgumentException("duplicate id");
                }
            } catch (IllegalArgumentException ex) {
                issues.add(new LoadIssue(file, line, id, ex.getMessage()));
            }
        });
        return new ScienceQaDataset(out, issues, false);
    }

    static Problem parseLlavaPrompt(String id, String prompt, String gold, String image) {
        String body = prompt.startsWith("<image>\n") ? prompt.substring("<image>\n".length()) : prompt;
        String[] lines = body.split("\n", -1);
        // the options are the trailing "A. …", "B. …", … lines; an option may itself span lines ("Love,\nZoe")
        int start = -1;
        for (int i = lines.length - 1; i >= 0 && start < 0; i--) {
            if (lines[i].startsWith("A. ")) {
                start = i;
            }
        }
        List<String> choices = new ArrayList<>();
        if (start >= 0) {
            StringBuilder cur = new StringBuilder(lines[start].substring(3));
            for (int j = start + 1; j < lines.length; j++) {
                char next = (char) ('A' + choices.size() + 1);
                if (lines[j].length() >= 3 && lines[j].charAt(0) == next && lines[j].startsWith(". ", 1)) {
                    choices.add(cur.toString());
                    cur = new StringBuilder(lines[j].substring(3));
                } else {
                    cur.append('\n').append(lines[j]);
                }
            }
            choices.add(cur.toString());
        }
        if (choices.size() < 2) {
            throw new IllegalArgumentException("prompt does not end with lettered options 'A. …', 'B. …'");
        }
        String head = String.join("\n", java.util.Arrays.copyOfRange(lines, 0, start));
        String hint = "";
        String question = head;
        if (head.startsWith("Context: ")) {
            // the context and question are separated by a newline we cannot locate exactly; keep the split visible
            int q = head.lastIndexOf('\n');
            hint = q > 0 ? head.substring("Context: ".length(), q) : head.substring("Context: ".length());
            question = q > 0 ? head.substring(q + 1) : "";
        }
        int answer = -1;
        if (!gold.isEmpty()) {
            if (gold.length() != 1 || gold.charAt(0) - 'A' < 0 || gold.charAt(0) - 'A' >= choices.size()) {
                throw new IllegalArgumentException("gold answer '" + gold + "' is not one of the "
                        + choices.size() + " option letters");
            }
            answer = gold.charAt(0) - 'A';
        }
        return new Problem(id, question, choices, answer, hint, image, null, null, null, null, null, null, "", "",
                null, null, prompt);
    }

    /** Adds subject, grade, hint and the rest from an official problems.json for ids present in both. */
    public ScienceQaDataset withMetadata(Path problemsJson) {
        ScienceQaDataset meta = fromProblems(problemsJson);
        Map<String, Problem> merged = new LinkedHashMap<>();
        int matched = 0;
        for (Problem p : problems.values()) {
            Problem m = meta.problems.get(p.id());
            if (m != null) {
                matched++;
                merged.put(p.id(), p.withMetadataFrom(m));
            } else {
                merged.put(p.id(), p);
            }
        }
        List<LoadIssue> all = new ArrayList<>(issues);
        all.addAll(meta.issues);
        return new ScienceQaDataset(merged, all, matched == problems.size() && matched > 0);
    }

    /** Adds generated captions ({"captions": {pid: text}} or {pid: text}). */
    public ScienceQaDataset withCaptions(Path captionsJson) {
        JsonNode root = readTree(captionsJson);
        JsonNode caps = root.has("captions") ? root.get("captions") : root;
        Map<String, Problem> out = new LinkedHashMap<>();
        for (Problem p : problems.values()) {
            JsonNode c = caps.get(p.id());
            out.put(p.id(), c != null && c.isTextual() ? p.withCaption(c.asText()) : p);
        }
        return new ScienceQaDataset(out, issues, metadata);
    }

    /** Keeps only the given ids (in this dataset's order). */
    public ScienceQaDataset only(Set<String> ids) {
        Map<String, Problem> out = new LinkedHashMap<>();
        problems.values().stream().filter(p -> ids.contains(p.id())).forEach(p -> out.put(p.id(), p));
        return new ScienceQaDataset(out, issues, metadata);
    }

    public List<Problem> problems() {
        return List.copyOf(problems.values());
    }

    public Problem get(String id) {
        return problems.get(id);
    }

    public int size() {
        return problems.size();
    }

    public List<LoadIssue> issues() {
        return issues;
    }

    /** Whether every problem has subject and grade (the full ScienceQA table can be computed). */
    public boolean hasMetadata() {
        return metadata && problems.values().stream().allMatch(p -> p.subject() != null && p.grade() != null);
    }

    /**
     * The image of a problem under {@code imagesDir}: ScienceQA's {@code <split>/<pid>/image.png} layout, a LLaVA
     * relative path ({@code <pid>/image.png}), or {@code <pid>/<image>} directly under the directory.
     */
    public static Path imagePath(Problem p, Path imagesDir) {
        if (!p.hasImage()) {
            return null;
        }
        List<Path> candidates = new ArrayList<>();
        if (p.image().contains("/")) {
            candidates.add(imagesDir.resolve(p.image()));
        }
        if (p.split() != null) {
            candidates.add(imagesDir.resolve(p.split()).resolve(p.id()).resolve(p.image()));
        }
        candidates.add(imagesDir.resolve(p.id()).resolve(p.image().contains("/") ? "image.png" : p.image()));
        for (String s : new String[] {"test", "val", "train"}) {
            candidates.add(imagesDir.resolve(s).resolve(p.id()).resolve("image.png"));
        }
        for (Path c : candidates) {
            if (Files.isRegularFile(c)) {
                return c;
            }
        }
        return candidates.get(0);
    }

    static JsonNode readTree(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (NoSuchFileException | java.io.FileNotFoundException e) {
            throw new BadInputException(file + ": file not found");
        } catch (IOException e) {
            throw new BadInputException(file + ": not valid JSON: " + e.getMessage().split("\n")[0], e);
        }
    }

    /**
     * Streams the entries of a top-level JSON object (key → value) or array (index → value), passing the line where
     * each entry starts.
     */
    static void forEachEntry(Path file, boolean object, BiConsumer<Integer, Map.Entry<String, JsonNode>> each) {
        if (!Files.isRegularFile(file)) {
            throw new BadInputException(file + ": file not found");
        }
        try (JsonParser p = JSON.getFactory().createParser(file.toFile())) {
            JsonToken first = p.nextToken();
            if (object && first != JsonToken.START_OBJECT) {
                throw new BadInputException(file + ": expected a JSON object of problems keyed by pid");
            }
            if (!object && first != JsonToken.START_ARRAY) {
                throw new BadInputException(file + ": expected a JSON list of questions");
            }
            int index = 0;
            Set<String> seen = new HashSet<>();
            while (true) {
                JsonToken t = p.nextToken();
                if (t == JsonToken.END_OBJECT || t == JsonToken.END_ARRAY || t == null) {
                    break;
                }
                String key;
                if (object) {
                    key = p.currentName();
                    p.nextToken();
                } else {
                    key = Integer.toString(index);
                }
                int line = p.currentTokenLocation().getLineNr();
                JsonNode v = JSON.readTree(p);
                if (object && !seen.add(key)) {
                    continue;
                }
                each.accept(line, Map.entry(key, v));
                index++;
            }
        } catch (IOException e) {
            throw new BadInputException(file + ": not valid JSON: " + e.getMessage().split("\n")[0], e);
        }
    }
}
