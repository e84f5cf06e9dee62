package dev.glimpse.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.glimpse.core.TestData;
import dev.glimpse.fusion.PromptTemplate;
import org.junit.jupiter.api.Test;

/** The LLaVA template renders ScienceQA problems exactly as LLaVA-1.5's question files hold them. */
class ScienceQaContractTest {
    static final String INSTRUCTION = "Answer with the option's letter from the given choices directly.";

    @Test
    void llavaTemplateReproducesEveryLlavaTestPrompt() {
        ScienceQaDataset d = ScienceQaDataset.fromLlavaQuestions(TestData.scienceQa()
                .resolve("questions/llava_test_CQM-A.json"));
        assertEquals(4241, d.size());
        int same = 0;
        for (Problem p : d.problems()) {
            // the question file's own text, as LLaVA's model_vqa_science appends the instruction to it
            assertEquals(p.prompt() + "\n" + INSTRUCTION, ScienceQaContract.render(PromptTemplate.LLAVA, p), "problem " + p.id());
            same++;
        }
        assertEquals(4241, same);
        assertEquals(" B", ScienceQaContract.answer(PromptTemplate.LLAVA, d.get("23")), "the trained continuation is the scored one");
    }

    @Test
    void officialProblemsRenderAsTheLlavaFileDoes() {
        ScienceQaDataset llava = ScienceQaDataset.fromLlavaQuestions(TestData.scienceQa()
                .resolve("questions/llava_test_CQM-A.json"));
        ScienceQaDataset official = ScienceQaDataset.fromProblems(TestData.scienceQa()
                .resolve("questions/problems_test_subset.json"));
        int compared = 0;
        java.util.Set<String> differ = new java.util.TreeSet<>();
        for (Problem p : official.problems()) {
            if (llava.get(p.id()) != null) {
                compared++;
                if (!ScienceQaContract.render(PromptTemplate.LLAVA, llava.get(p.id())).equals(ScienceQaContract.render(PromptTemplate.LLAVA, p))) {
                    differ.add(p.id());
                }
            }
        }
        assertEquals(361, compared);
        // LLaVA's converted question file edits six hints (Punnett-square tables dropped, a double space
        // collapsed); every other problem renders to the same text from either source
        assertEquals(java.util.Set.of("1412", "1714", "209", "332", "42", "600"), differ);
    }
}
