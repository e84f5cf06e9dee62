package dev.glimpse.eval;

import java.util.List;

/**
 * One ScienceQA problem as the official {@code problems.json} describes it. Fields the source lacks are null (a
 * LLaVA question file has no subject, grade, lecture or solution).
 *
 * @param id the problem id (pid)
 * @param question the question text
 * @param choices the answer options, in order (A, B, ...)
 * @param answer index of the correct choice, or -1 when unknown
 * @param hint the textual context ("" when none)
 * @param image the image file name, or null for text-only problems
 * @param prompt the question's ready-made prompt (LLaVA question files), or null
 */
public record Problem(String id, String question, List<String> choices, int answer, String hint, String image,
                      String task, String grade, String subject, String topic, String category, String skill,
                      String lecture, String solution, String split, String caption, String prompt) {
    public Problem {
        choices = List.copyOf(choices);
    }

    public boolean hasImage() {
        return image != null && !image.isEmpty();
    }

    /** ScienceQA's TXT column: the problem has a textual context. */
    public boolean hasText() {
        return hint != null && !hint.isEmpty();
    }

    /** ScienceQA's NO column: neither text nor image context. */
    public boolean noContext() {
        return !hasText() && !hasImage();
    }

    /** The gold letter (A, B, ...), or "?" when unknown. */
    public String answerLetter() {
        return answer < 0 ? "?" : String.valueOf((char) ('A' + answer));
    }

    Problem withCaption(String c) {
        return new Problem(id, question, choices, answer, hint, image, task, grade, subject, topic, category, skill,
                lecture, solution, split, c, prompt);
    }

    Problem withMetadataFrom(Problem p) {
        return new Problem(id, p.question, p.choices, p.answer, p.hint, p.image, p.task, p.grade, p.subject, p.topic,
                p.category, p.skill, p.lecture, p.solution, p.split, p.caption != null ? p.caption : caption, prompt);
    }
}
