package dev.glimpse.samples.examples;

import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.langchain4j.GlimpseChatModel;
import dev.glimpse.langchain4j.GlimpseStreamingChatModel;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.ChatModel;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;

/**
 * Ask about an image through LangChain4j's ChatModel, then stream the same answer through its StreamingChatModel.
 *
 * <pre>java ... ChatWithLangChain4j runs/demo/bundle runs/demo/samples/sample-color-0.png "What color is the ball?"</pre>
 */
public final class ChatWithLangChain4j {
    private ChatWithLangChain4j() {}

    public static void main(String[] args) throws Exception {
        String png = Base64.getEncoder().encodeToString(Files.readAllBytes(Path.of(args[1])));
        UserMessage question = UserMessage.from(ImageContent.from(png, "image/png"), TextContent.from(args[2]));
        try (VisionLanguageModel vlm = VisionLanguageModel.load(args[0])) {
            ChatModel model = GlimpseChatModel.builder().model(vlm).maxOutputTokens(16).build();
            System.out.println("answer: " + model.chat(question).aiMessage().text());

            CompletableFuture<ChatResponse> done = new CompletableFuture<>();
            System.out.print("streamed:");
            GlimpseStreamingChatModel.builder().model(vlm).maxOutputTokens(16).build().chat(java.util.List.of(question),
                    new StreamingChatResponseHandler() {
                        @Override
                        public void onPartialResponse(String piece) {
                            System.out.print(piece);
                        }

                        @Override
                        public void onCompleteResponse(ChatResponse r) {
                            done.complete(r);
                        }

                        @Override
                        public void onError(Throwable e) {
                            done.completeExceptionally(e);
                        }
                    });
            ChatResponse r = done.get();
            System.out.println();
            System.out.println("tokens: " + r.tokenUsage().inputTokenCount() + " in, " + r.tokenUsage()
                    .outputTokenCount() + " out");
        }
    }
}
