package dev.glimpse.fusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.TestData;
import dev.glimpse.language.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Streaming text: pieces add up to the text, and a stop string that spans tokens is never let out. */
class TextStreamTest {
    @Test
    void piecesAddUpAndStopStringsAcrossTokensAreHeldBack() throws Exception {
        try (Tokenizer tok = Tokenizer.load(TestData.model("stories260k"))) {
            int[] ids = tok.encode("Once upon a time there was a little dog named Max.", false);
            List<String> pieces = new ArrayList<>();
            TextStream free = new TextStream(tok, List.of(), pieces::add);
            for (int id : ids) {
                assertTrue(free.accept(id));
            }
            assertEquals("Once upon a time there was a little dog named Max.", free.finish());
            assertEquals(free.text(), String.join("", pieces));
            assertTrue(pieces.size() > 5, "a piece per token or so: " + pieces);

            List<String> cut = new ArrayList<>();
            TextStream stopping = new TextStream(tok, List.of("XYZ", "a little d"), cut::add);
            int fed = 0;
            boolean going = true;
            for (int id : ids) {
                fed++;
                going = stopping.accept(id);
                if (!going) {
                    break;
                }
                assertFalse(String.join("", cut).contains("a little"), "the stop string's start is held back");
            }
            assertFalse(going);
            assertTrue(stopping.stopped());
            assertTrue(fed < ids.length, "it ended at the token that completed the stop string");
            assertEquals("Once upon a time there was ", stopping.finish());
            assertEquals(stopping.text(), String.join("", cut));
            assertFalse(stopping.accept(ids[0]), "nothing after a stop");
        }
    }
}
