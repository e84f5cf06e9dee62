package dev.glimpse.fusion;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.core.BadInputException;
import java.util.List;
import java.util.Locale;

/**
 * The one prompt contract: how a {@link Question} (or a ScienceQA problem, through the eval module's
 * {@code ScienceQaContract}) becomes the prompt, and which continuation stands for each choice. Training data, {@code eval run}, {@code ask}, {@code serve} and the Java API
 * all render through this type, and a bundle records the template it was trained with, so the token ids learnt are
 * the token ids scored.
 *
 * <p>The template may use {@code {context}} ("Context: …\n" when there is one), {@code {question}} and
 * {@code {options}} ("A. …\nB. …\n" when choices are scored by letter), and holds one {@code <image>} per image.
 * With {@link Scoring#LETTERS} each option is scored as its letter; with {@link Scoring#OPTIONS} as its own text.
 *
 * <p>Immutable and thread-safe.
 */
public record PromptTemplate(String template, Scoring scoring, String answerPrefix) {
    /** What is scored for each choice. */
    public enum Scoring { LETTERS, OPTIONS }

    /** LLaVA-1.5's ScienceQA prompt: options by letter and the single-letter instruction. */
    public static final PromptTemplate LLAVA = new PromptTemplate(
            "<image>\n{context}{question}\n{options}Answer with the option's letter from the given choices directly.",
            Scoring.LETTERS, " ");

    /**
     * Free-form prompts used as written (JSONL and LLaVA-conversation training data): {@code {question}} is the
     * whole prompt and the answer follows it with nothing added.
     */
    public static final PromptTemplate RAW = new PromptTemplate("{question}", Scoring.OPTIONS, "");

    public PromptTemplate {
        if (template == null || !template.contains("{question}")) {
            throw new BadInputException("a prompt template needs a {question} placeholder, got '" + template + "'");
        }
        if (scoring == null) {
            throw new BadInputException("a prompt template needs a scoring (letters or options)");
        }
        answerPrefix = answerPrefix == null ? "" : answerPrefix;
    }

    /** The same template scoring choices by {@code s}. */
    public PromptTemplate withScoring(Scoring s) {
        return new PromptTemplate(template, s, answerPrefix);
    }

    public String render(Question q) {
        return render(q.context(), q.question(), q.choices(), q.images().size());
    }

    /**
     * The prompt of a question with an optional context (blank for none), its choices, and {@code images} images:
     * the template's {@code <image>} placeholders are dropped without images, and added in front when it has fewer.
     */
    public String render(String context, String question, List<String> choices, int images) {
        StringBuilder opts = new StringBuilder();
        if (scoring == Scoring.LETTERS) {
            for (int i = 0; i < choices.size(); i++) {
                opts.append((char) ('A' + i)).append(". ").append(choices.get(i)).append('\n');
            }
        }
        String ctx = context.isBlank() ? "" : "Context: " + context + "\n";
        String body = template.replace("{context}", ctx).replace("{question}", question)
                .replace("{options}", opts.toString());
        if (images == 0) {
            body = body.replace(MultimodalPrompt.IMAGE + "\n", "").replace(MultimodalPrompt.IMAGE, "");
        } else {
            int placeholders = body.split(java.util.regex.Pattern.quote(MultimodalPrompt.IMAGE), -1).length - 1;
            if (placeholders < images) {
                StringBuilder extra = new StringBuilder();
                for (int i = placeholders; i < images; i++) {
                    extra.append(MultimodalPrompt.IMAGE).append('\n');
                }
                body = extra + body;
            }
        }
        return body;
    }

    /** The continuation scored for each choice, in order. */
    public List<String> continuations(List<String> choices) {
        List<String> out = new java.util.ArrayList<>();
        for (int i = 0; i < choices.size(); i++) {
            out.add(continuation(choices, i));
        }
        return out;
    }

    /** The continuation scored for choice {@code i}. */
    public String continuation(List<String> choices, int i) {
        return answerPrefix + (scoring == Scoring.LETTERS ? String.valueOf((char) ('A' + i)) : choices.get(i));
    }

    /** Writes the template's fields (prompt_template, scoring, answer_prefix) into a bundle's JSON. */
    public void write(ObjectNode n) {
        n.put("prompt_template", template);
        n.put("scoring", scoring.name().toLowerCase(Locale.ROOT));
        n.put("answer_prefix", answerPrefix);
    }

    /**
     * Reads the fields {@link #write} writes; a bundle written before templates were recorded gets the LLaVA
     * template, which is what those bundles were trained with.
     */
    public static PromptTemplate read(JsonNode n, String where) {
        String s = n.path("scoring").asText("letters").toUpperCase(Locale.ROOT);
        Scoring sc;
        try {
            sc = Scoring.valueOf(s);
        } catch (IllegalArgumentException e) {
            throw new BadInputException(where + ": field 'scoring' is '" + n.path("scoring").asText()
                    + "', expected letters or options");
        }
        return new PromptTemplate(n.path("prompt_template").asText(LLAVA.template()), sc,
                n.path("answer_prefix").asText(" "));
    }
}
