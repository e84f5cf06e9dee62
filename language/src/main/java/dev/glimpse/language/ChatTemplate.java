package dev.glimpse.language;

import com.hubspot.jinjava.Jinjava;
import com.hubspot.jinjava.JinjavaConfig;
import com.hubspot.jinjava.interpret.RenderResult;
import com.hubspot.jinjava.lib.fn.ELFunctionDefinition;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.TokenizerConfig;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A Hugging Face chat template rendered with a real Jinja engine (jinjava), as transformers renders it. */
final class ChatTemplate {
    private final String template;
    private final TokenizerConfig config;
    private final Jinjava jinja;

    ChatTemplate(String template, TokenizerConfig config) {
        this.template = template;
        this.config = config;
        this.jinja = new Jinjava(JinjavaConfig.newBuilder().withTrimBlocks(true).withLstripBlocks(true).build());
        jinja.getGlobalContext().registerFunction(new ELFunctionDefinition("", "raise_exception",
                ChatTemplate.class, "raiseException", String.class));
    }

    String template() {
        return template;
    }

    /** Called by templates that reject a conversation. */
    public static String raiseException(String message) {
        throw new BadInputException("chat template: " + message);
    }

    String render(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        Map<String, Object> ctx = new HashMap<>();
        ctx.put("messages", messages);
        ctx.put("add_generation_prompt", addGenerationPrompt);
        ctx.put("bos_token", config.bosToken() == null ? "" : config.bosToken());
        ctx.put("eos_token", config.eosToken() == null ? "" : config.eosToken());
        RenderResult r = jinja.renderForResult(template, ctx);
        if (!r.getErrors().isEmpty()) {
            var e = r.getErrors().get(0);
            for (Throwable t = e.getException(); t != null; t = t.getCause()) {
                if (t instanceof BadInputException b) {
                    throw b; // raise_exception from the template: its own words
                }
            }
            throw new BadInputException("chat template: " + e.getMessage());
        }
        return r.getOutput();
    }
}
