package dev.glimpse.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.BadInputException;
import dev.glimpse.samples.demo.DemoRunner;
import dev.glimpse.samples.demo.DiagramDataset;
import java.util.HashSet;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The demo's suites and variant lists, without training. */
class DemoSuitesTest {
    @Test
    void letteredSuiteShufflesOptionsSoALetterSaysNothingByItself() {
        List<DiagramDataset.Item> items = DiagramDataset.generateLettered(100, 3, "t");
        assertEquals(600, items.size());
        int[][] byLetter = new int[DiagramDataset.Kind.values().length][4];
        for (DiagramDataset.Item it : items) {
            assertEquals(new HashSet<>(it.kind().options), new HashSet<>(it.options()), it.id());
            assertTrue(it.answer() >= 0 && it.answer() < it.options().size());
            byLetter[it.kind().ordinal()][it.answer()]++;
        }
        for (DiagramDataset.Kind k : DiagramDataset.Kind.values()) {
            for (int letter = 0; letter < k.options.size(); letter++) {
                // 100 items per kind: each letter near 100 / options, never a constant answer
                assertTrue(byLetter[k.ordinal()][letter] >= 100 / k.options.size() / 2, k + " letter " + letter + ": "
                        + byLetter[k.ordinal()][letter]);
            }
        }
        // the demo's own suite is unchanged: four kinds, options in their fixed order
        List<DiagramDataset.Item> demo = DiagramDataset.generate(2, 1, "d");
        assertEquals(8, demo.size());
        demo.forEach(it -> assertEquals(it.kind().options, it.options()));
    }

    @Test
    void variantsParseAndTheFirstIsTheMainRow() {
        assertEquals(List.of(DemoRunner.Variant.values()), DemoRunner.Variant.parse("all"));
        assertEquals(List.of(DemoRunner.Variant.LLAMA_ADAPTER, DemoRunner.Variant.LORA),
                DemoRunner.Variant.parse("llama-adapter, lora,llama-adapter"));
        BadInputException e = assertThrows(BadInputException.class, () -> DemoRunner.Variant.parse("dora"));
        assertTrue(e.getMessage().contains("dora"), e.getMessage());
        assertThrows(BadInputException.class, () -> DemoRunner.Variant.parse(" "));
    }
}
