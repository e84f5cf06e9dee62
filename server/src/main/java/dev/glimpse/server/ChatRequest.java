package dev.glimpse.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.glimpse.fusion.ChatInput;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/**
 * An OpenAI chat-completions request, checked: its messages, images, sampling and stops as a {@link ChatInput} (the
 * checks every client API shares), plus what is OpenAI's own: logprobs and streaming. What Glimpse cannot honour is
 * refused with a 400 naming the parameter, never ignored.
 */
record ChatRequest(ChatInput input, boolean logprobs, int topLogprobs, boolean stream, boolean includeUsage) {
    /** The most new tokens one request may ask for: a request's cost stays bounded. */
    static final int MAX_TOKENS = 4096;

    /** Parses {@code req}; {@code images} loads an image_url (data: URL, or http(s) where allowed) for a field. */
    static ChatRequest parse(JsonNode req, BiFunction<String, String, BufferedImage> images) {
        refuseUnsupported(req);
        try {
            ChatInput.Builder in = ChatInput.builder(64, MAX_TOKENS, ChatInput.OPENAI_STOPS);
            messages(req, in, images);
            in.maxTokens(maxTokens(req), maxTokensField(req));
            in.temperature(optionalNumber(req, "temperature"), "temperature");
            in.topP(optionalNumber(req, "top_p"), "top_p");
            in.seed(seed(req));
            in.stops(stops(req), "stop");
            int top = topLogprobs(req);
            boolean stream = bool(req, "stream");
            JsonNode so = req.get("stream_options");
            if (so != null && !so.isNull() && !stream) {
                throw new HttpError(400, "'stream_options' is only allowed with 'stream': true", "stream_options");
            }
            boolean usage = so != null && so.isObject() && so.path("include_usage").asBoolean(false);
            return new ChatRequest(in.build(), bool(req, "logprobs"), top, stream, usage);
        } catch (ChatInput.Invalid e) {
            throw new HttpError(400, e.getMessage(), e.field());
        }
    }

    /** The messages: string content, or text and image_url parts in order. */
    private static void messages(JsonNode req, ChatInput.Builder in, BiFunction<String, String, BufferedImage> images) {
        JsonNode ms = req.get("messages");
        if (ms == null || !ms.isArray() || ms.isEmpty()) {
            throw new HttpError(400, "'messages' must be a non-empty list", "messages");
        }
        for (int i = 0; i < ms.size(); i++) {
            JsonNode m = ms.get(i);
            String field = "messages[" + i + "]";
            in.message(m.path("role").asText(""), field);
            if (m.has("tool_calls") || m.has("function_call")) {
                throw new HttpError(400, field + ": tool calls are not supported", field + ".tool_calls");
            }
            JsonNode content = m.get("content");
            if (content != null && content.isTextual()) {
                in.text(content.asText(), field + ".content");
            } else if (content != null && content.isArray()) {
                for (int k = 0; k < content.size(); k++) {
                    JsonNode part = content.get(k);
                    String pf = field + ".content[" + k + "]";
                    switch (part.path("type").asText("")) {
                        case "text" -> in.text(part.path("text").asText(), pf + ".text");
                        case "image_url" -> {
                            JsonNode u = part.path("image_url");
                            String url = u.isTextual() ? u.asText() : u.path("url").asText("");
                            in.image(images.apply(url, pf + ".image_url"), pf);
                        }
                        default -> throw new HttpError(400, pf + ": content part type must be text or image_url, not '"
                                + part.path("type").asText("") + "'", pf + ".type");
                    }
                }
            } else {
                throw new HttpError(400, field + ": message content must be a string or a list of parts",
                        field + ".content");
            }
        }
    }

    /** max_completion_tokens, or the older max_tokens: an integer (range checked by ChatInput), or null. */
    private static Integer maxTokens(JsonNode req) {
        String f = maxTokensField(req);
        JsonNode v = req.get(f);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new HttpError(400, "'" + f + "' must be an integer from 1 to " + MAX_TOKENS, f);
        }
        return v.asInt();
    }

    private static String maxTokensField(JsonNode req) {
        JsonNode v = req.get("max_completion_tokens");
        return v != null && !v.isNull() ? "max_completion_tokens" : "max_tokens";
    }

    private static Long seed(JsonNode req) {
        JsonNode seed = req.get("seed");
        if (seed == null || seed.isNull()) {
            return null; // OpenAI: without a seed, draws differ
        }
        if (!seed.isIntegralNumber() || !seed.canConvertToLong()) {
            throw new HttpError(400, "'seed' must be an integer", "seed");
        }
        return seed.asLong();
    }

    /** 'stop': a string or a list of strings (their number and emptiness checked by ChatInput). */
    private static List<String> stops(JsonNode req) {
        JsonNode st = req.get("stop");
        List<String> stops = new ArrayList<>();
        if (st == null || st.isNull()) {
            return stops;
        }
        if (st.isTextual()) {
            stops.add(st.asText());
            return stops;
        }
        if (!st.isArray()) {
            throw new HttpError(400, "'stop' must be a string or a list of up to 4 strings", "stop");
        }
        for (JsonNode x : st) {
            if (!x.isTextual()) {
                throw new HttpError(400, "'stop' must be a string or a list of up to 4 strings", "stop");
            }
            stops.add(x.asText());
        }
        return stops;
    }

    private static int topLogprobs(JsonNode req) {
        JsonNode tl = req.get("top_logprobs");
        if (tl == null || tl.isNull()) {
            return 0;
        }
        if (!tl.isIntegralNumber() || tl.asInt() < 0 || tl.asInt() > 20) {
            throw new HttpError(400, "'top_logprobs' must be an integer from 0 to 20", "top_logprobs");
        }
        if (!bool(req, "logprobs")) {
            throw new HttpError(400, "'top_logprobs' needs 'logprobs': true", "top_logprobs");
        }
        return tl.asInt();
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

    /** A number field, or null; its range is ChatInput's to check. */
    private static Double optionalNumber(JsonNode req, String f) {
        JsonNode v = req.get(f);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber()) {
            throw new HttpError(400, "'" + f + "' must be a number", f);
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
