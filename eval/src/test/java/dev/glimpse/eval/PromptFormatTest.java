package dev.glimpse.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.glimpse.core.BadInputException;
import dev.glimpse.core.TestData;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Prompts byte-identical to ScienceQA's published builder (strings written out from its definition). */
class PromptFormatTest {
    static Problem problem(String hint, String lecture, String solution) {
        return new Problem("7", "Which is a mammal?", List.of("frog", "whale  shark", "cow"), 2, hint, null, null,
                "grade3", "natural science", null, null, null, lecture, solution, "test", "A cow in a field.", null);
    }

    @Test
    void cqmAndQcmTestPrompts() {
        Problem p = problem("", "Mammals have hair.\nThey feed milk.", "A cow is a mammal.");
        assertEquals("Context: N/A\nQuestion: Which is a mammal?\nOptions: (A) frog (B) whale shark (C) cow\nAnswer:",
                PromptFormat.parse("CQM-A").testPrompt(p, false));
        assertEquals("Question: Which is a mammal?\nContext: A cow in a field.\nOptions: (A) frog (B) whale shark (C) cow"
                + "\nAnswer:", PromptFormat.parse("QCM-ALE").testPrompt(p, true));
        assertEquals("Question: Which is a mammal?\nContext: Look.\nOptions: (A) frog (B) whale shark (C) cow\n"
                + "BECAUSE: Mammals have hair.\\nThey feed milk. A cow is a mammal.\nAnswer:",
                PromptFormat.parse("QCMLE-A").testPrompt(problem("Look.", p.lecture(), p.solution()), false));
    }

    @Test
    void solvedExamplesAndEmptyExplanations() {
        Problem p = problem("Look.", "Mammals have hair.\nThey feed milk.", "A cow is a mammal.");
        assertEquals("Question: Which is a mammal?\nContext: Look.\nOptions: (A) frog (B) whale shark (C) cow\n"
                + "Answer: The answer is C. BECAUSE: Mammals have hair.\\nThey feed milk. A cow is a mammal.",
                PromptFormat.parse("QCM-ALE").solvedExample(p, false));
        assertEquals("Question: Which is a mammal?\nContext: Look.\nOptions: (A) frog (B) whale shark (C) cow\n"
                + "Answer: Mammals have hair.\\nThey feed milk. A cow is a mammal. The answer is C.",
                PromptFormat.parse("QCM-LEA").solvedExample(p, false));
        // empty lecture and solution: the trailing "BECAUSE:" is dropped as published
        assertEquals("Question: Which is a mammal?\nContext: Look.\nOptions: (A) frog (B) whale shark (C) cow\n"
                + "Answer: The answer is C.", PromptFormat.parse("QCM-AE").solvedExample(problem("Look.", "", ""), false));
        assertThrows(BadInputException.class, () -> PromptFormat.parse("XYZ-A"));
    }
}
