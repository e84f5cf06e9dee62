package dev.glimpse.core;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;

/** tokenizer_config.json: special tokens, BOS/EOS flags, the chat template. Absent file → all defaults. */
public record TokenizerConfig(String bosToken, String eosToken, String padToken, String unkToken,
                              boolean addBosToken, boolean addEosToken, String chatTemplate, long modelMaxLength) {

    public static TokenizerConfig read(Path dir) {
        Path file = dir.resolve("tokenizer_config.json");
        if (!Files.isRegularFile(file)) {
            return new TokenizerConfig(null, null, null, null, false, false, null, Long.MAX_VALUE);
        }
        JsonFields f = JsonFields.read(file);
        JsonNode tpl = f.node().get("chat_template");
        String template = null;
        if (tpl != null && tpl.isTextual()) {
            template = tpl.asText();
        } else if (tpl != null && tpl.isArray()) {
            // a list of named templates: take "default"
            for (JsonNode t : tpl) {
                if ("default".equals(t.path("name").asText())) {
                    template = t.path("template").asText();
                }
            }
        }
        if (template == null && Files.isRegularFile(dir.resolve("chat_template.jinja"))) {
            try {
                template = Files.readString(dir.resolve("chat_template.jinja"));
            } catch (java.io.IOException e) {
                throw new BadInputException(dir.resolve("chat_template.jinja") + ": cannot read: " + e.getMessage());
            }
        }
        JsonNode max = f.node().get("model_max_length");
        long maxLen = max != null && max.isNumber() ? (long) Math.min(max.asDouble(), Long.MAX_VALUE) : Long.MAX_VALUE;
        return new TokenizerConfig(token(f, "bos_token"), token(f, "eos_token"), token(f, "pad_token"),
                token(f, "unk_token"), f.bool("add_bos_token", false), f.bool("add_eos_token", false), template,
                maxLen);
    }

    /** Special tokens are written as a string or as an AddedToken object with "content". */
    private static String token(JsonFields f, String field) {
        JsonNode v = f.node().get(field);
        if (v == null || v.isNull()) {
            return null;
        }
        if (v.isTextual()) {
            return v.asText();
        }
        if (v.isObject() && v.path("content").isTextual()) {
            return v.get("content").asText();
        }
        throw f.bad(field, "a string or an object with 'content'");
    }
}
