package dev.glimpse.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.glimpse.fusion.Conversation;
import dev.glimpse.fusion.MultimodalPrompt;
import dev.glimpse.language.GenerationOptions;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BiFunction;

/**
 * An OpenAI chat-completions request, checked: messages (text and image_url parts, images kept where they appear),
 * sampling, stops, logprobs and streaming. What Glimpse cannot honour is refused with a 400 naming the parameter,
 * never ignored.
 */
record ChatRequest(List<Conversation.Message> messages, List<BufferedImage> images, GenerationOptions generation,
                   List<String> stops, boolean logprobs, int topLogprobs, boolean stream, boolean includeUsage) {
    static final int MAX_TOKENS = 4096;

    /** Parses {@code req}; {@code images} loads an image_url (data: URL, or http(s) where allowed) for a field. */
    static ChatRequest parse(JsonNode req, BiFunction<String, String, BufferedImage> images) {
        refuseUnsupported(req);
        JsonNode ms = req.get("messages");
        if (ms == null || !ms.isArray() || ms.isEmpty()) {
            throw new HttpError(400, "'messages' must be a non-empty list", "messages");
        }
        List<Conversation.Message> messages = new ArrayList<>();
        List<BufferedImage> loaded = new ArrayList<>();
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String field = "messages[" + i + "]";
            String role = m.path("role").asText("");
            if (role.equals("developer")) {
                role = "system"; // OpenAI's newer name for the system role
            }
            if (!List.of("system", "user", "assistant").contains(role)) {
                throw new HttpError(400, field + ": message role must be system, developer, user or assistant, not '"
                        + m.path("role").asText("") + "'", field + ".role");
            }
            if (m.has("tool_calls") || m.has("function_call")) {
                throw new HttpError(400, field + ": tool calls are not supported", field + ".tool_calls");
            }
            JsonNode content = m.get("content");
            StringBuilder text = new StringBuilder();
            if (content != null && content.isTextual()) {
                text.append(content.asText());
            } else if (content != null && content.isArray()) {
                for (int k = 0; k < content.size(); k++) {
                    JsonNode part = content.get(k);
                    String pf = field + ".content[" + k + "]";
                    switch (part.path("type").asText("")) {
                        case "text" -> text.append(part.path("text").asText());
                        case "image_url" -> {
                            JsonNode u = part.path("image_url");
                            String url = u.isTextual() ? u.asText() : u.path("url").asText("");
                            loaded.add(images.apply(url, pf + ".image_url"));
                            text.append(MultimodalPrompt.IMAGE).append('\n');
                        }
                        default -> throw new HttpError(400, pf + ": content part type must be text or image_url, not '"
                                + part.path("type").asText("") + "'", pf + ".type");
                    }
                }
            } else {
                throw new HttpError(400, field + ": message content must be a string or a list of parts",
                        field + ".content");
            }
            if (text.indexOf(MultimodalPrompt.IMAGE) >= 0 && content.isTextual()) {
                throw new HttpError(400, field + ": the text holds '" + MultimodalPrompt.IMAGE + "'; send images as"
                        + " image_url parts", field + ".content");
            }
            messages.add(new Conversation.Message(role, text.toString()));
        }

        int maxTokens = 64;
        for (String f : List.of("max_completion_tokens", "max_tokens")) {
            JsonNode v = req.get(f);
            if (v != null && !v.isNull()) {
                if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 1 || v.asInt() > MAX_TOKENS) {
                    throw new HttpError(400, "'" + f + "' must be an integer from 1 to " + MAX_TOKENS, f);
                }
                maxTokens = v.asInt();
                break;
            }
        }
        double temperature = number(req, "temperature", 0, 0, 2);
        double topP = number(req, "top_p", 1, Double.MIN_VALUE, 1);
        GenerationOptions.Builder g = GenerationOptions.builder().maxNewTokens(maxTokens);
        JsonNode seed = req.get("seed");
        long s;
        if (seed == null || seed.isNull()) {
            s = ThreadLocalRandom.current().nextLong(); // OpenAI: without a seed, draws differ
        } else if (seed.isIntegralNumber() && seed.canConvertToLong()) {
            s = seed.asLong();
        } else {
            throw new HttpError(400, "'seed' must be an integer", "seed");
        }
        g.seed(s);
        if (temperature > 0) {
            g.sample(temperature, 0, topP); // temperature 0 (the default here) is greedy decoding
        }
        List<String> stops = new ArrayList<>();
        JsonNode st = req.get("stop");
        if (st != null && !st.isNull()) {
            if (st.isTextual()) {
                stops.add(st.asText());
            } else if (st.isArray() && st.size() <= 4) {
                for (JsonNode x : st) {
                    if (!x.isTextual()) {
                        throw new HttpError(400, "'stop' must be a string or a list of up to 4 strings", "stop");
                    }
                    stops.add(x.asText());
                }
            } else {
                throw new HttpError(400, "'stop' must be a string or a list of up to 4 strings", "stop");
            }
            if (stops.stream().anyMatch(String::isEmpty)) {
                throw new HttpError(400, "'stop' strings must not be empty", "stop");
            }
        }
        boolean logprobs = bool(req, "logprobs");
        int top = 0;
        JsonNode tl = req.get("top_logprobs");
        if (tl != null && !tl.isNull()) {
            if (!tl.isIntegralNumber() || tl.asInt() < 0 || tl.asInt() > 20) {
                throw new HttpError(400, "'top_logprobs' must be an integer from 0 to 20", "top_logprobs");
            }
            if (!logprobs) {
                throw new HttpError(400, "'top_logprobs' needs 'logprobs': true", "top_logprobs");
            }
            top = tl.asInt();
        }
        boolean stream = bool(req, "stream");
        JsonNode so = req.get("stream_options");
        boolean usage = so != null && so.isObject() && so.path("include_usage").asBoolean(false);
        if (so != null && !so.isNull() && !stream) {
            throw new HttpError(400, "'stream_options' is only allowed with 'stream': true", "stream_options");
        }
        return new ChatRequest(messages, loaded, g.build(), stops, logprobs, top, stream, usage);
    }

    /** Parameters OpenAI accepts that Glimpse cannot honour: a clear 400 instead of a silent difference. */
    private static void refuseUnsupported(JsonNode req) {
        JsonNode n = req.get("n");
        if (n != null && !n.isNull() && !(n.isIntegralNumber() && n.asInt() == 1)) {
            throw new HttpError(400, "'n': only one choice per request is supported (send n = 1 or leave it out)", "n");
        }
        for (String f : List.of("tools", "functions")) {
            JsonNode t = req.get(f);
            if (t != null && !t.isNull() && !(t.isArray() && t.isEmpty())) {
                throw new HttpError(400, "'" + f + "': tool calling is not supported", f);
            }
        }
        for (String f : List.of("tool_choice", "function_call")) {
            JsonNode t = req.get(f);
            if (t != null && !t.isNull() && !(t.isTextual() && t.asText().equals("none"))) {
                throw new HttpError(400, "'" + f + "': tool calling is not supported", f);
            }
        }
        JsonNode rf = req.get("response_format");
        if (rf != null && !rf.isNull() && !rf.path("type").asText("").equals("text")) {
            throw new HttpError(400, "'response_format': only {\"type\": \"text\"} is supported", "response_format");
        }
        for (String f : List.of("frequency_penalty", "presence_penalty")) {
            JsonNode p = req.get(f);
            if (p != null && !p.isNull() && !(p.isNumber() && p.asDouble() == 0)) {
                throw new HttpError(400, "'" + f + "' is not supported (leave it out or send 0)", f);
            }
        }
        JsonNode lb = req.get("logit_bias");
        if (lb != null && !lb.isNull() && !(lb.isObject() && lb.isEmpty())) {
            throw new HttpError(400, "'logit_bias' is not supported", "logit_bias");
        }
        JsonNode mod = req.get("modalities");
        if (mod != null && !mod.isNull() && !(mod.isArray() && mod.size() == 1 && mod.get(0).asText().equals("text"))) {
            throw new HttpError(400, "'modalities': only [\"text\"] output is supported", "modalities");
        }
        if (req.has("audio") && !req.get("audio").isNull()) {
            throw new HttpError(400, "'audio' output is not supported", "audio");
        }
    }

    private static double number(JsonNode req, String f, double dflt, double min, double max) {
        JsonNode v = req.get(f);
        if (v == null || v.isNull()) {
            return dflt;
        }
        if (!v.isNumber() || v.asDouble() < min || v.asDouble() > max) {
            throw new HttpError(400, "'" + f + "' must be a number from " + (min == Double.MIN_VALUE ? "above 0" : min)
                    + " to " + max, f);
        }
        return v.asDouble();
    }

    private static boolean bool(JsonNode req, String f) {
        JsonNode v = req.get(f);
        if (v == null || v.isNull()) {
            return false;
        }
        if (!v.isBoolean()) {
            throw new HttpError(400, "'" + f + "' must be true or false", f);
        }
        return v.asBoolean();
    }
}
