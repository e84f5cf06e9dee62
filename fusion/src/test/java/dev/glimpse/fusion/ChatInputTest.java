package dev.glimpse.fusion;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.List;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** The checks every chat API shares (the server's and LangChain4j's requests both become a ChatInput). */
class ChatInputTest {
    static final BufferedImage A = new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB);
    static final BufferedImage B = new BufferedImage(3, 3, BufferedImage.TYPE_INT_RGB);

    static ChatInput.Builder chat() {
        return ChatInput.builder(64, 4096, ChatInput.OPENAI_STOPS).message("user", "m[0]").text("Hi", "m[0]");
    }

    static ChatInput.Invalid invalid(Supplier<Object> s) {
        return assertThrows(ChatInput.Invalid.class, s::get);
    }

    @Test
    void imagesStayWhereTheyAppearAndRolesAreNormalised() {
        ChatInput in = ChatInput.builder(64, 4096, 4).message("developer", "m[0]").text("Be brief.", "m[0]")
                .message("user", "m[1]").image(A, "m[1]").text("What is this? And", "m[1]").image(B, "m[1]")
                .build();
        assertEquals(List.of(new Conversation.Message("system", "Be brief."),
                new Conversation.Message("user", "<image>\nWhat is this? And<image>\n")), in.messages());
        assertEquals(2, in.images().size());
        assertSame(A, in.images().get(0));
        assertSame(B, in.images().get(1));
        assertEquals(64, in.options().maxNewTokens());
        assertFalse(in.options().doSample(), "temperature 0 (the default) decodes greedily");
        assertTrue(chat().temperature(0.7, "t").topP(0.9, "p").topK(5, "k").seed(3L).build().options().doSample());
        assertEquals(3L, chat().seed(3L).build().options().seed());
    }

    @Test
    void whatDoesNotFitIsRefusedNamingTheField() {
        assertEquals("m[0].role", invalid(() -> ChatInput.builder(64, 4096, 4).message("tool", "m[0]")).field());
        ChatInput.Invalid e = invalid(() -> chat().text("see <image> here", "m[0].content"));
        assertTrue(e.getMessage().contains("send images as image parts"), e.getMessage());
        assertEquals("m[0].content", e.field());
        assertEquals("messages", invalid(() -> ChatInput.builder(64, 4096, 4).build()).field());
        assertEquals("max_tokens", invalid(() -> chat().maxTokens(0, "max_tokens")).field());
        e = invalid(() -> chat().maxTokens(4097, "max_tokens"));
        assertTrue(e.getMessage().contains("from 1 to 4096"), e.getMessage());
        assertEquals(8192, ChatInput.builder(64, Integer.MAX_VALUE, Integer.MAX_VALUE).message("user", "m")
                .text("x", "m").maxTokens(8192, "n").build().options().maxNewTokens(), "a library call has no cap");
        assertEquals("temperature", invalid(() -> chat().temperature(2.5, "temperature")).field());
        assertEquals("temperature", invalid(() -> chat().temperature(Double.NaN, "temperature")).field());
        assertEquals("top_p", invalid(() -> chat().topP(0.0, "top_p")).field());
        assertEquals("k", invalid(() -> chat().topK(-1, "k")).field());
        e = invalid(() -> chat().stops(List.of("a", "b", "c", "d", "e"), "stop"));
        assertTrue(e.getMessage().contains("up to 4 strings"), e.getMessage());
        assertTrue(invalid(() -> chat().stops(List.of("a", ""), "stop")).getMessage().contains("must not be empty"));
        assertEquals("m", invalid(() -> ChatInput.builder(64, 4096, 4).text("orphan", "m")).field());
    }
}
