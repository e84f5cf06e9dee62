package dev.glimpse.eval;

import dev.glimpse.core.BadInputException;
import java.util.List;

/**
 * ScienceQA's input/output format codes ({@code CQM-A}, {@code QCM-LEA}, {@code QCM-ALE}, …) rendered exactly as
 * the published prompt builder (ScienceQA's base_prompt.py, also used by LLaVA) renders a test example: context
 * "N/A" when empty, options "(A) x (B) y", double spaces collapsed, ending in "Answer:".
 */
public final class PromptFormat {
    /** LLaVA-1.5's instruction for single-letter answers. */
    static final String OPTIONS = "ABCDE";
    private static final List<String> INPUTS = List.of("CQM", "QCM", "QCML", "QCME", "QCMLE", "QCLM", "QCEM", "QCLEM");
    private static final List<String> OUTPUTS = List.of("A", "AL", "AE", "ALE", "AEL", "LA", "EA", "LEA", "ELA");

    private final String input;
    private final String output;

    private PromptFormat(String input, String output) {
        this.input = input;
        this.output = output;
    }

    public static PromptFormat parse(String code) {
        String[] parts = code.split("-");
        if (parts.length != 2 || !INPUTS.contains(parts[0]) || !OUTPUTS.contains(parts[1])) {
            throw new BadInputException("unknown prompt format '" + code + "' (inputs " + INPUTS + ", outputs "
                    + OUTPUTS + ", e.g. CQM-A)");
        }
        return new PromptFormat(parts[0], parts[1]);
    }

    public String code() {
        return input + "-" + output;
    }

    static String context(Problem p, boolean useCaption) {
        String txt = p.hint() == null ? "" : p.hint();
        String img = useCaption && p.caption() != null ? p.caption() : "";
        String c = (txt + " " + img).strip();
        return c.isEmpty() ? "N/A" : c;
    }

    static String choices(Problem p) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < p.choices().size(); i++) {
            if (i > 0) {
                sb.append(' ');
            }
            sb.append('(').append(OPTIONS.charAt(i)).append(") ").append(p.choices().get(i));
        }
        return sb.toString();
    }

    /** The test-example prompt (ending in "Answer:"). */
    public String testPrompt(Problem p, boolean useCaption) {
        return render(p, useCaption, true);
    }

    /** A solved example (for few-shot prompts and training targets). */
    public String solvedExample(Problem p, boolean useCaption) {
        return render(p, useCaption, false);
    }

    private String render(Problem p, boolean useCaption, boolean test) {
        if (p.choices().size() > OPTIONS.length()) {
            throw new BadInputException("problem " + p.id() + " has " + p.choices().size()
                    + " choices; ScienceQA prompts letter at most 5");
        }
        String question = p.question();
        String context = context(p, useCaption);
        String choice = choices(p);
        String answer = p.answerLetter();
        String lecture = p.lecture() == null ? "" : p.lecture().replace("\n", "\\n");
        String solution = p.solution() == null ? "" : p.solution().replace("\n", "\\n");
        String in = switch (input) {
            case "CQM" -> "Context: " + context + "\nQuestion: " + question + "\nOptions: " + choice + "\n";
            case "QCM" -> "Question: " + question + "\nContext: " + context + "\nOptions: " + choice + "\n";
            case "QCML" -> "Question: " + question + "\nContext: " + context + "\nOptions: " + choice + "\nBECAUSE: "
                    + lecture + "\n";
            case "QCME" -> "Question: " + question + "\nContext: " + context + "\nOptions: " + choice + "\nBECAUSE: "
                    + solution + "\n";
            case "QCMLE" -> "Question: " + question + "\nContext: " + context + "\nOptions: " + choice
                    + "\nBECAUSE: " + lecture + " " + solution + "\n";
            case "QCLM" -> "Question: " + question + "\nContext: " + context + "\nBECAUSE: " + lecture + "\nOptions: "
                    + choice + "\n";
            case "QCEM" -> "Question: " + question + "\nContext: " + context + "\nBECAUSE: " + solution
                    + "\nOptions: " + choice + "\n";
            case "QCLEM" -> "Question: " + question + "\nContext: " + context + "\nBECAUSE: " + lecture + " "
                    + solution + "\nOptions: " + choice + "\n";
            default -> throw new IllegalStateException(input);
        };
        String out;
        if (test) {
            out = "Answer:";
        } else {
            out = switch (output) {
                case "A" -> "Answer: The answer is " + answer + ".";
                case "AL" -> "Answer: The answer is " + answer + ". BECAUSE: " + solution;
                case "AE" -> "Answer: The answer is " + answer + ". BECAUSE: " + lecture;
                case "ALE" -> "Answer: The answer is " + answer + ". BECAUSE: " + lecture + " " + solution;
                case "AEL" -> "Answer: The answer is " + answer + ". BECAUSE: " + solution + " " + lecture;
                case "LA" -> "Answer: " + lecture + " The answer is " + answer + ".";
                case "EA" -> "Answer: " + solution + " The answer is " + answer + ".";
                case "LEA" -> "Answer: " + lecture + " " + solution + " The answer is " + answer + ".";
                case "ELA" -> "Answer: " + solution + " " + lecture + " The answer is " + answer + ".";
                default -> throw new IllegalStateException(output);
            };
        }
        // Python's str.replace("  ", " ") is one left-to-right pass, then strip()
        String text = (in + out).replace("  ", " ").strip();
        if (text.endsWith("BECAUSE:")) {
            text = text.replace("BECAUSE:", "").strip();
        }
        return text;
    }
}
