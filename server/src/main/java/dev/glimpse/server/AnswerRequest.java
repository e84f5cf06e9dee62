package dev.glimpse.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.glimpse.fusion.Question;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiFunction;

/** A {@code /v1/answer} request, checked: question, optional image, 2 to 26 choices, optional context. */
final class AnswerRequest {
    private AnswerRequest() {}

    /** Parses {@code req}; {@code images} loads the image (base64, data: URL, or http(s) where allowed). */
    static Question parse(JsonNode req, BiFunction<String, String, BufferedImage> images) {
        String question = text(req, "question", true);
        List<String> choices = new ArrayList<>();
        JsonNode c = req.get("choices");
        if (c != null && !c.isNull()) {
            if (!c.isArray()) {
                throw new HttpError(400, "'choices' must be a list of strings", "choices");
            }
            for (JsonNode x : c) {
                if (!x.isTextual()) {
                    throw new HttpError(400, "'choices' must be a list of strings", "choices");
                }
                choices.add(x.asText());
            }
            if (choices.size() == 1 || choices.size() > 26) {
                throw new HttpError(400, "'choices' needs 2 to 26 options", "choices");
            }
        }
        List<BufferedImage> loaded = new ArrayList<>();
        JsonNode img = req.get("image");
        if (img != null && !img.isNull()) {
            if (!img.isTextual()) {
                throw new HttpError(400, "'image' must be a base64 string or a data URL", "image");
            }
            loaded.add(images.apply(img.asText(), "image"));
        }
        return new Question(loaded, question, choices, text(req, "context", false));
    }

    private static String text(JsonNode req, String field, boolean required) {
        JsonNode v = req.get(field);
        if (v == null || v.isNull()) {
            if (required) {
                throw new HttpError(400, "field '" + field + "' is required", field);
            }
            return "";
        }
        if (!v.isTextual()) {
            throw new HttpError(400, "field '" + field + "' must be a string", field);
        }
        if (required && v.asText().isBlank()) {
            throw new HttpError(400, "field '" + field + "' is empty", field);
        }
        return v.asText();
    }
}
