package dev.glimpse.fusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.TestData;
import dev.glimpse.eval.Problem;
import dev.glimpse.eval.ScienceQaDataset;
import java.util.List;
import org.junit.jupiter.api.Test;

/** PromptTemplate is the one renderer: it reproduces LLaVA-1.5's ScienceQA prompts and round-trips through bundles. */
class PromptContractTest {
    static final String INSTRUCTION = "Answer with the option's letter from the given choices directly.";

    @Test
    void llavaTemplateReproducesEveryLlavaTestPrompt() {
        ScienceQaDataset d = ScienceQaDataset.fromLlavaQuestions(TestData.scienceQa()
                .resolve("questions/llava_test_CQM-A.json"));
        assertEquals(4241, d.size());
        int same = 0;
        for (Problem p : d.problems()) {
            // the question file's own text, as LLaVA's model_vqa_science appends the instruction to it
            assertEquals(p.prompt() + "\n" + INSTRUCTION, PromptTemplate.LLAVA.render(p), "problem " + p.id());
            same++;
        }
        assertEquals(4241, same);
        assertEquals(" B", PromptTemplate.LLAVA.answer(d.get("23")), "the trained continuation is the scored one");
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
                if (!PromptTemplate.LLAVA.render(llava.get(p.id())).equals(PromptTemplate.LLAVA.render(p))) {
                    differ.add(p.id());
                }
            }
        }
        assertEquals(361, compared);
        // LLaVA's converted question file edits six hints (Punnett-square tables dropped, a double space
        // collapsed); every other problem renders to the same text from either source
        assertEquals(java.util.Set.of("1412", "1714", "209", "332", "42", "600"), differ);
    }

    @Test
    void templatesRoundTripThroughBundleJson() {
        ObjectMapper json = new ObjectMapper();
        for (PromptTemplate t : List.of(PromptTemplate.LLAVA, PromptTemplate.RAW, new PromptTemplate(
                "<image>\nQuestion: {question}\nAnswer:", PromptTemplate.Scoring.OPTIONS, " "))) {
            ObjectNode n = json.createObjectNode();
            t.write(n);
            assertEquals(t, PromptTemplate.read(n, "bundle.json"));
        }
        // bundles written before templates were recorded were trained with LLaVA's
        assertEquals(PromptTemplate.LLAVA, PromptTemplate.read(json.createObjectNode(), "bundle.json"));
        ObjectNode bad = json.createObjectNode().put("scoring", "bananas");
        BadInputException e = assertThrows(BadInputException.class, () -> PromptTemplate.read(bad, "x/bundle.json"));
        assertEquals("x/bundle.json: field 'scoring' is 'bananas', expected letters or options", e.getMessage());
    }
}
