package dev.glimpse.fusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.glimpse.core.BadInputException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** PromptTemplate round-trips through bundles (its ScienceQA rendering is tested in eval's ScienceQaContractTest). */
class PromptContractTest {
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
