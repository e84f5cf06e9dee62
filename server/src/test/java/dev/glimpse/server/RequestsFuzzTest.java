package dev.glimpse.server;

import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Fuzzing;
import dev.glimpse.core.TestData;
import dev.glimpse.language.Tokenizer;
import dev.glimpse.vision.ImageLoader;
import java.awt.image.BufferedImage;
import java.io.IOException;

/**
 * The service's request bodies from outside, through the same parsing the handlers use: a request, or a 4xx naming
 * what is wrong (never a 500). Chats are rendered into the prompt (LLaVA's format, stories260k's tokenizer).
 */
class RequestsFuzzTest {
    static final ObjectMapper JSON = new ObjectMapper();
    static final ImageLoader LOADER = new ImageLoader(4_000_000, 4L << 20);
    static final Tokenizer TOKENIZER = Tokenizer.load(TestData.model("stories260k"));

    /** A data URL or base64 image, as the server loads them (remote URLs: refused as the default server does). */
    static BufferedImage image(String ref, String field) {
        if (ref.startsWith("http://") || ref.startsWith("https://")) {
            throw new HttpError(400, "'" + field + "': remote image URLs are refused", field);
        }
        return LOADER.loadBase64(ref, "'" + field + "'");
    }

    /** The body of POST /v1/chat/completions. */
    @FuzzTest(maxDuration = "60s")
    void chatCompletion(byte[] body) {
        Fuzzing.onlyBadInput(() -> {
            JsonNode n = json(body);
            try {
                ChatRequest r = ChatRequest.parse(n, RequestsFuzzTest::image);
                r.input().prompt(TOKENIZER);
            } catch (HttpError e) {
                refusal(e);
            }
        });
    }

    /** The body of POST /v1/answer. */
    @FuzzTest(maxDuration = "60s")
    void answer(byte[] body) {
        Fuzzing.onlyBadInput(() -> {
            JsonNode n = json(body);
            try {
                AnswerRequest.parse(n, RequestsFuzzTest::image);
            } catch (HttpError e) {
                refusal(e);
            }
        });
    }

    /** Malformed JSON and non-objects are the server's 400s too. */
    static JsonNode json(byte[] body) {
        try {
            JsonNode n = JSON.readTree(body);
            if (n == null || !n.isObject()) {
                throw new BadInputException("the body must be a JSON object");
            }
            return n;
        } catch (JsonProcessingException e) {
            throw new BadInputException("malformed JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw new BadInputException("unreadable: " + e.getMessage());
        }
    }

    /** A 4xx with a message is the documented refusal; a 5xx would be a finding. */
    static void refusal(HttpError e) {
        if (e.status >= 500 || e.getMessage() == null || e.getMessage().isBlank()) {
            throw new AssertionError("status " + e.status + ": " + e.getMessage(), e);
        }
        throw new BadInputException(e.getMessage());
    }
}
