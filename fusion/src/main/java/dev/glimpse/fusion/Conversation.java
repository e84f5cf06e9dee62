package dev.glimpse.fusion;

import dev.glimpse.core.BadInputException;
import dev.glimpse.language.Tokenizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A chat as a prompt: the messages rendered through the model's chat template (tokenizer_config.json), or, when the
 * checkpoint has none, through LLaVA's v1 conversation format ("SYSTEM USER: ... ASSISTANT: ...&lt;/s&gt;"). Images
 * stay where they appear, as {@code <image>} placeholders in a message's text. Ends with the assistant's turn open.
 */
public final class Conversation {
    /** LLaVA v1's system prompt, used when the conversation brings none. */
    public static final String LLAVA_SYSTEM = "A chat between a curious human and an artificial intelligence"
            + " assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

    /** One message: role system, user or assistant; {@code content} holds {@code <image>} where its images go. */
    public record Message(String role, String content) {
        public Message {
            if (!List.of("system", "user", "assistant").contains(role)) {
                throw new BadInputException("message role must be system, user or assistant, not '" + role + "'");
            }
        }
    }

    private Conversation() {}

    /** The prompt for the assistant's next turn. */
    public static String render(Tokenizer tokenizer, List<Message> messages) {
        if (messages.isEmpty()) {
            throw new BadInputException("a conversation needs at least one message");
        }
        if (!messages.get(messages.size() - 1).role().equals("user")) {
            throw new BadInputException("the last message must be the user's (the model answers it), not the "
                    + messages.get(messages.size() - 1).role() + "'s");
        }
        if (tokenizer.hasChatTemplate()) {
            List<Map<String, Object>> ms = new ArrayList<>();
            for (Message m : messages) {
                Map<String, Object> x = new LinkedHashMap<>();
                x.put("role", m.role());
                x.put("content", m.content());
                ms.add(x);
            }
            return withoutLeadingBos(tokenizer, tokenizer.applyChatTemplate(ms, true));
        }
        return llava(messages);
    }

    /**
     * Templates often write the BOS token themselves, and prompts are encoded with the tokenizer's special tokens
     * (which add it again): transformers encodes a rendered chat without them. One BOS, as there.
     */
    private static String withoutLeadingBos(Tokenizer tokenizer, String prompt) {
        int[] specials = tokenizer.encode("");
        if (specials.length > 0) {
            String bos = tokenizer.decode(new int[] {specials[0]}, false);
            if (!bos.isEmpty() && prompt.startsWith(bos)) {
                return prompt.substring(bos.length());
            }
        }
        return prompt;
    }

    /** LLaVA v1 (SeparatorStyle.TWO): the system text, then "ROLE: text" closed by " " (user) or "</s>" (assistant). */
    static String llava(List<Message> messages) {
        StringBuilder sb = new StringBuilder();
        int start = 0;
        if (messages.get(0).role().equals("system")) {
            sb.append(messages.get(0).content());
            start = 1;
        } else {
            sb.append(LLAVA_SYSTEM);
        }
        sb.append(' ');
        for (int i = start; i < messages.size(); i++) {
            Message m = messages.get(i);
            switch (m.role()) {
                case "user" -> sb.append("USER: ").append(m.content()).append(' ');
                case "assistant" -> sb.append("ASSISTANT: ").append(m.content()).append("</s>");
                default -> throw new BadInputException("a system message may only come first (message " + i + ")");
            }
        }
        return sb.append("ASSISTANT:").toString();
    }
}
