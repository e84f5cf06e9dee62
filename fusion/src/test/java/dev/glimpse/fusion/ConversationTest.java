package dev.glimpse.fusion;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.TestData;
import dev.glimpse.language.Tokenizer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Chats become prompts through the model's chat template, or LLaVA's v1 conversation when it has none. */
class ConversationTest {
    static final Conversation.Message SYS = new Conversation.Message("system", "Be brief.");

    @Test
    void withoutATemplateLlavaV1() throws Exception {
        try (Tokenizer tok = Tokenizer.load(TestData.model("stories260k"))) {
            String one = Conversation.render(tok, List.of(new Conversation.Message("user", "<image>\nWhat is it?")));
            assertEquals(Conversation.LLAVA_SYSTEM + " USER: <image>\nWhat is it? ASSISTANT:", one);
            String turns = Conversation.render(tok, List.of(SYS, new Conversation.Message("user", "Hi"),
                    new Conversation.Message("assistant", "Hello"), new Conversation.Message("user", "<image>\nAnd?")));
            assertEquals("Be brief. USER: Hi ASSISTANT: Hello</s>USER: <image>\nAnd? ASSISTANT:", turns);
            assertThrows(BadInputException.class, () -> Conversation.render(tok, List.of(
                    new Conversation.Message("user", "Hi"), new Conversation.Message("assistant", "Hello"))));
            assertThrows(BadInputException.class, () -> Conversation.render(tok, List.of(
                    new Conversation.Message("user", "Hi"), SYS, new Conversation.Message("user", "Hi"))));
            assertThrows(BadInputException.class, () -> new Conversation.Message("robot", "x"));
        }
    }

    @Test
    void theModelsTemplateWithOneBos(@TempDir Path dir) throws Exception {
        Files.copy(TestData.model("stories260k").resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        String template = "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
                + "{% if add_generation_prompt %}assistant:{% endif %}";
        Files.writeString(dir.resolve("tokenizer_config.json"), new ObjectMapper().writeValueAsString(
                Map.of("bos_token", "<s>", "eos_token", "</s>", "chat_template", template)));
        try (Tokenizer tok = Tokenizer.load(dir)) {
            String p = Conversation.render(tok, List.of(SYS, new Conversation.Message("user", "<image>\nHi")));
            assertEquals("system: Be brief.\nuser: <image>\nHi\nassistant:", p, "the template's BOS is left to the"
                    + " tokenizer");
            int[] ids = MultimodalPrompt.encode(tok, p, 3).ids();
            int bos = tok.encode("")[0];
            assertEquals(bos, ids[0]);
            assertTrue(ids[1] != bos, "one BOS, as transformers encodes a rendered chat");
            assertArrayEquals(new int[] {MultimodalPrompt.SLOT, MultimodalPrompt.SLOT, MultimodalPrompt.SLOT},
                    java.util.Arrays.copyOfRange(ids, indexOfSlot(ids), indexOfSlot(ids) + 3));
        }
    }

    static int indexOfSlot(int[] ids) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] == MultimodalPrompt.SLOT) {
                return i;
            }
        }
        throw new AssertionError("no image slot");
    }
}
