package dev.glimpse.fusion;

import dev.glimpse.core.BadInputException;
import dev.glimpse.language.Tokenizer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A chat as a prompt: the messages rendered through the model's chat template (tokenizer_config.json), or, when the
 * checkpoint has none, through {@link #LLAVA_V1_TEMPLATE} ("SYSTEM USER: ... ASSISTANT: ...&lt;/s&gt;"). Images
 * stay where they appear, as {@code <image>} placeholders in a message's text. Ends with the assistant's turn open.
 */
public final class Conversation {
    /** LLaVA v1's system prompt, used when the conversation brings none. */
    public static final String LLAVA_SYSTEM = "A chat between a curious human and an artificial intelligence"
            + " assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

    /**
     * LLaVA v1's conversation (SeparatorStyle.TWO: the system text, then "ROLE: text" closed by " " for the user and
     * "&lt;/s&gt;" for the assistant) as a Jinja chat template: what Glimpse renders for a model without a template of
     * its own, and what a LLaVA export carries as {@code chat_template.jinja}, so transformers renders the same text.
     * A message's content may be text with {@code <image>} in place, or transformers' list of
     * {@code {"type": "image"}} / {@code {"type": "text", "text": …}} parts.
     */
    public static final String LLAVA_V1_TEMPLATE = """
            {%- macro content(c) -%}
            {%- if c is string -%}{{ c }}{%- else -%}{%- for p in c -%}
            {%- if p['type'] == 'image' -%}{{ '<image>\n' }}{%- elif p['type'] == 'text' -%}{{ p['text'] }}{%- endif -%}
            {%- endfor -%}{%- endif -%}
            {%- endmacro -%}
            {%- for m in messages -%}
            {%- if loop.first and m['role'] != 'system' -%}{{ "@SYSTEM@ " }}{%- endif -%}
            {%- if m['role'] == 'system' -%}
            {%- if not loop.first -%}{{ raise_exception('a system message may only come first (message ' ~ loop.index0 ~ ')') }}{%- endif -%}
            {{ content(m['content']) }}{{ ' ' }}
            {%- elif m['role'] == 'user' -%}{{ 'USER: ' }}{{ content(m['content']) }}{{ ' ' }}
            {%- elif m['role'] == 'assistant' -%}{{ 'ASSISTANT: ' }}{{ content(m['content']) }}{{ '</s>' }}
            {%- endif -%}
            {%- endfor -%}
            {%- if add_generation_prompt -%}{{ 'ASSISTANT:' }}{%- endif -%}
            """.replace("@SYSTEM@", LLAVA_SYSTEM).strip();

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
        List<Map<String, Object>> ms = new ArrayList<>();
        for (Message m : messages) {
            Map<String, Object> x = new LinkedHashMap<>();
            x.put("role", m.role());
            x.put("content", m.content());
            ms.add(x);
        }
        return withoutLeadingBos(tokenizer, tokenizer.hasChatTemplate() ? tokenizer.applyChatTemplate(ms, true)
                : tokenizer.applyChatTemplate(LLAVA_V1_TEMPLATE, ms, true));
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
}
