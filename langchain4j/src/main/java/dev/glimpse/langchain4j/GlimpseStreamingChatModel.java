package dev.glimpse.langchain4j;

import dev.langchain4j.model.chat.StreamingChatModel;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A Glimpse vision-language model as a LangChain4j {@link StreamingChatModel}: text reaches the handler piece by
 * piece as it is decoded (never half a character or the start of a stop sequence), on a worker thread; the complete
 * response equals what {@link GlimpseChatModel} answers for the same request and seed.
 */
public final class GlimpseStreamingChatModel extends Settings.Base implements StreamingChatModel {
    private static final ExecutorService SHARED = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "glimpse-langchain4j-stream");
        t.setDaemon(true);
        return t;
    });

    private final ExecutorService executor;

    private GlimpseStreamingChatModel(Builder b) {
        super(b);
        this.executor = b.executor != null ? b.executor : SHARED;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** As {@link GlimpseChatModel.Builder}, plus the executor that runs the generations (default: daemon threads). */
    public static final class Builder extends Settings.Builder<Builder> {
        private ExecutorService executor;

        public Builder executor(ExecutorService executor) {
            this.executor = executor;
            return this;
        }

        public GlimpseStreamingChatModel build() {
            return new GlimpseStreamingChatModel(this);
        }
    }

    @Override
    public void doChat(ChatRequest request, StreamingChatResponseHandler handler) {
        executor.execute(() -> {
            ChatResponse r;
            try {
                r = ChatRequests.run(vlm, loader, defaults.modelName(), seed, request, handler::onPartialResponse);
            } catch (RuntimeException e) {
                handler.onError(e);
                return;
            }
            handler.onCompleteResponse(r);
        });
    }
}
