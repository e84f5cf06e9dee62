package dev.glimpse.langchain4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.glimpse.core.TestData;
import dev.glimpse.fusion.Conversation;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.GenerationOptions;
import dev.langchain4j.agent.tool.Tool;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ResponseFormat;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.service.AiServices;
import dev.langchain4j.service.SystemMessage;
import dev.langchain4j.service.TokenStream;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** LangChain4j's own API (ChatModel, StreamingChatModel, AiServices) over the offline demo bundle. */
class GlimpseLangChain4jTest {
    static VisionLanguageModel vlm;
    static String png;

    @BeforeAll
    static void load() throws Exception {
        vlm = VisionLanguageModel.load(TestData.model("bundle").toString());
        BufferedImage img = new BufferedImage(128, 128, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, 128, 128);
        g.setColor(Color.RED);
        g.fillOval(30, 30, 60, 60);
        g.dispose();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        png = Base64.getEncoder().encodeToString(out.toByteArray());
    }

    @AfterAll
    static void close() {
        vlm.close();
    }

    static UserMessage withImage(String text) {
        return UserMessage.from(ImageContent.from(png, "image/png"), TextContent.from(text));
    }

    @Test
    void anImageQuestionAnswersAsTheModelDoesDirectly() {
        ChatModel model = GlimpseChatModel.builder().model(vlm).modelName("demo").maxOutputTokens(12).build();
        ChatResponse r = model.chat(withImage("What color is the ball?"));
        String direct = vlm.complete(Conversation.render(vlm.tokenizer(), List.of(
                new Conversation.Message("user", "<image>\nWhat color is the ball?"))),
                vlm.features(List.of(decode())), GenerationOptions.greedy(12), List.of(),
                s -> { }).text();
        assertEquals(direct, r.aiMessage().text());
        assertFalse(direct.isEmpty());
        assertEquals("demo", r.modelName());
        assertTrue(r.tokenUsage().inputTokenCount() > 49, "the image's tokens are counted");
        assertTrue(r.tokenUsage().outputTokenCount() <= 12);
    }

    static BufferedImage decode() {
        return new dev.glimpse.vision.ImageLoader().loadBase64(png, "png");
    }

    @Test
    void streamingGivesTheSameTextInPieces() throws Exception {
        GlimpseChatModel whole = GlimpseChatModel.builder().model(vlm).temperature(0.8).seed(3L).maxOutputTokens(20)
                .build();
        StreamingChatModel streaming = GlimpseStreamingChatModel.builder().model(vlm).temperature(0.8).seed(3L)
                .maxOutputTokens(20).build();
        String expected = whole.chat(withImage("Tell me about it.")).aiMessage().text();
        StringBuilder pieces = new StringBuilder();
        int[] count = {0};
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(List.of(withImage("Tell me about it.")), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String partial) {
                pieces.append(partial);
                count[0]++;
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse r = done.get(2, TimeUnit.MINUTES);
        assertEquals(expected, r.aiMessage().text());
        assertEquals(expected, pieces.toString());
        assertTrue(count[0] > 3, "in pieces: " + count[0]);
    }

    interface Storyteller {
        @SystemMessage("You tell short stories for children.")
        String tell(@dev.langchain4j.service.UserMessage String start);

        @SystemMessage("You tell short stories for children.")
        TokenStream stream(@dev.langchain4j.service.UserMessage String start);
    }

    @Test
    void aiServicesOverGlimpse() throws Exception {
        ChatModel model = GlimpseChatModel.builder().model(vlm).maxOutputTokens(16).build();
        Storyteller s = AiServices.builder(Storyteller.class).chatModel(model).streamingChatModel(
                GlimpseStreamingChatModel.builder().model(vlm).maxOutputTokens(16).build()).build();
        String story = s.tell("Once upon a time");
        assertFalse(story.isBlank());
        String direct = vlm.complete(Conversation.render(vlm.tokenizer(), List.of(
                new Conversation.Message("system", "You tell short stories for children."),
                new Conversation.Message("user", "Once upon a time"))), List.of(), GenerationOptions.greedy(16),
                List.of(), x -> { }).text();
        assertEquals(direct, story, "AiServices' system and user messages reach the model as a chat");

        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        StringBuilder streamed = new StringBuilder();
        s.stream("Once upon a time").onPartialResponse(streamed::append).onCompleteResponse(done::complete)
                .onError(done::completeExceptionally).start();
        assertEquals(story, done.get(2, TimeUnit.MINUTES).aiMessage().text());
        assertEquals(story, streamed.toString());
    }

    static class Clock {
        @Tool("the time")
        String now() {
            return "noon";
        }
    }

    @Test
    void whatGlimpseCannotDoIsRefusedAndLengthIsReported() {
        ChatModel model = GlimpseChatModel.builder().model(vlm).maxOutputTokens(3).build();
        Storyteller withTools = AiServices.builder(Storyteller.class).chatModel(model).tools(new Clock()).build();
        assertThrows(UnsupportedFeatureException.class, () -> withTools.tell("What time is it?"));
        assertThrows(UnsupportedFeatureException.class, () -> model.chat(ChatRequest.builder().messages(
                UserMessage.from("Hi")).responseFormat(ResponseFormat.JSON).build()));
        ChatResponse r = model.chat(UserMessage.from("Once upon a time"));
        assertEquals(FinishReason.LENGTH, r.finishReason());
        assertEquals(3, r.tokenUsage().outputTokenCount());
    }
}
