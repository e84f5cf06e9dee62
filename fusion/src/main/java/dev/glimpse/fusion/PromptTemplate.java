package dev.glimpse.fusion;

import java.util.List;

/**
 * How a {@link Question} becomes the prompt the adapter was trained on, and how options are scored.
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

    public String render(Question q) {
        StringBuilder opts = new StringBuilder();
        if (scoring == Scoring.LETTERS) {
            for (int i = 0; i < q.choices().size(); i++) {
                opts.append((char) ('A' + i)).append(". ").append(q.choices().get(i)).append('\n');
            }
        }
        String ctx = q.context().isBlank() ? "" : "Context: " + q.context().strip() + "\n";
        String body = template.replace("{context}", ctx).replace("{question}", q.question())
                .replace("{options}", opts.toString());
        if (q.images().isEmpty()) {
            body = body.replace(MultimodalPrompt.IMAGE + "\n", "").replace(MultimodalPrompt.IMAGE, "");
        } else {
            int placeholders = body.split(java.util.regex.Pattern.quote(MultimodalPrompt.IMAGE), -1).length - 1;
            if (placeholders < q.images().size()) {
                StringBuilder extra = new StringBuilder();
                for (int i = placeholders; i < q.images().size(); i++) {
                    extra.append(MultimodalPrompt.IMAGE).append('\n');
                }
                body = extra + body;
            }
        }
        return body;
    }

    /** The continuation scored for choice {@code i}. */
    public String continuation(List<String> choices, int i) {
        return answerPrefix + (scoring == Scoring.LETTERS ? String.valueOf((char) ('A' + i)) : choices.get(i));
    }
}
