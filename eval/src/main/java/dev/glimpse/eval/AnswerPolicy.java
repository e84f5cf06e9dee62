package dev.glimpse.eval;

import java.util.Locale;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How a model's free text becomes a choice, named after the scripts that define it.
 * <ul>
 *   <li>{@code llava} (LLaVA's eval_science_qa.py): a bare letter; else "X. …"; else exactly one match of
 *       {@code The answer is ([A-Z]).}; else failed, which counts as wrong.</li>
 *   <li>{@code scienceqa} (ScienceQA's run_gpt3.py): the regex alone; a failure becomes a uniformly random choice
 *       drawn with a seed — reports also give the expected accuracy over that draw.</li>
 *   <li>{@code strict}: the regex alone; failures are wrong.</li>
 * </ul>
 * A letter beyond the problem's choices is a failure under every policy.
 */
public enum AnswerPolicy {
    LLAVA, SCIENCEQA, STRICT;

    /** The ScienceQA regex, with its unescaped '.' (any character) kept as published. */
    static final Pattern ANSWER_IS = Pattern.compile("The answer is ([A-Z]).");

    public static AnswerPolicy parse(String name) {
        try {
            return valueOf(name.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new dev.glimpse.core.BadInputException("unknown answer policy '" + name
                    + "' (expected llava, scienceqa or strict)");
        }
    }

    /** The parsed letter, or null when this policy finds none. */
    public String letter(String output) {
        if (output == null) {
            return null;
        }
        if (this == LLAVA) {
            if (output.length() == 1 && output.charAt(0) >= 'A' && output.charAt(0) <= 'Z') {
                return output;
            }
            if (output.length() >= 3 && output.charAt(0) >= 'A' && output.charAt(0) <= 'Z'
                    && output.startsWith(". ", 1)) {
                return output.substring(0, 1);
            }
        }
        Matcher m = ANSWER_IS.matcher(output);
        String found = null;
        int count = 0;
        while (m.find()) {
            found = m.group(1);
            count++;
        }
        return count == 1 ? found : null;
    }

    /** The parsed choice index, or -1 when the output names no valid choice. */
    public int index(String output, int numChoices) {
        String l = letter(output);
        if (l == null) {
            return -1;
        }
        int i = l.charAt(0) - 'A';
        return i < numChoices ? i : -1;
    }

    /** The index used for scoring: the parsed one, or under {@code scienceqa} a seeded random fallback. */
    public int resolve(int parsed, int numChoices, Random random) {
        if (parsed >= 0 || this != SCIENCEQA) {
            return parsed;
        }
        return random.nextInt(numChoices);
    }

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
