package dev.glimpse.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionContentPart;
import com.openai.models.chat.completions.ChatCompletionContentPartImage;
import com.openai.models.chat.completions.ChatCompletionContentPartText;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.models.Model;
import dev.glimpse.fusion.VisionLanguageModel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The official OpenAI Java SDK against the server, as a team's service would use it; responses are validated. */
class OpenAiSdkTest {
    @TempDir
    static Path dir;
    static VisionLanguageModel vlm;
    static GlimpseServer server;
    static OpenAIClient client;
    static List<String> images;

    @BeforeAll
    static void start() throws Exception {
        vlm = VisionLanguageModel.load(GlimpseServerTest.bundle(dir).toString());
        server = GlimpseServer.builder(vlm).modelName("test-bundle").port(0).build().start();
        images = GlimpseServerTest.images();
        client = OpenAIOkHttpClient.builder().baseUrl(server.url() + "/v1").apiKey("not-needed").maxRetries(0)
                .timeout(Duration.ofMinutes(2)).build();
    }

    @AfterAll
    static void stop() {
        client.close();
        server.close();
        vlm.close();
    }

    static ChatCompletionCreateParams.Builder withImage(String question) {
        return ChatCompletionCreateParams.builder().model("test-bundle").addUserMessageOfArrayOfContentParts(List.of(
                ChatCompletionContentPart.ofImageUrl(ChatCompletionContentPartImage.builder().imageUrl(
                        ChatCompletionContentPartImage.ImageUrl.builder().url(images.get(2)).build()).build()),
                ChatCompletionContentPart.ofText(ChatCompletionContentPartText.builder().text(question).build())));
    }

    @Test
    void aCompletionWithAnImageAndItsStreamAgree() {
        ChatCompletionCreateParams params = withImage("What color is the ball?").maxCompletionTokens(12)
                .temperature(0.7).seed(5).build();
        ChatCompletion whole = client.chat().completions().create(params);
        whole.validate(); // every field the SDK's schema requires, with its type
        String text = whole.choices().get(0).message().content().orElseThrow();
        assertFalse(text.isEmpty());
        assertEquals("test-bundle", whole.model());
        long completion = whole.usage().orElseThrow().completionTokens();
        assertTrue(completion >= 1 && completion <= 12);
        assertTrue(whole.usage().orElseThrow().promptTokens() > 49, "the image's 49 tokens are counted");

        StringBuilder streamed = new StringBuilder();
        List<ChatCompletionChunk> chunks = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(params.toBuilder()
                .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
            s.stream().forEach(c -> {
                c.validate();
                chunks.add(c);
                c.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append));
            });
        }
        assertEquals(text, streamed.toString(), "streamed text equals the whole answer for the same seed");
        assertEquals(whole.usage().orElseThrow().totalTokens(), chunks.get(chunks.size() - 1).usage().orElseThrow()
                .totalTokens());
        assertTrue(chunks.stream().anyMatch(c -> c.choices().stream().anyMatch(ch -> ch.finishReason().isPresent())));
    }

    @Test
    void modelsAndErrors() {
        List<Model> models = client.models().list().data();
        assertEquals("test-bundle", models.get(0).id());
        BadRequestException bad = assertThrows(BadRequestException.class, () -> client.chat().completions().create(
                withImage("Two answers?").n(2).build()));
        assertTrue(bad.getMessage().contains("'n'"), bad.getMessage());
        NotFoundException missing = assertThrows(NotFoundException.class, () -> client.chat().completions().create(
                ChatCompletionCreateParams.builder().model("gpt-4o").addUserMessage("Hi").build()));
        assertTrue(missing.getMessage().contains("test-bundle"), missing.getMessage());
    }
}
