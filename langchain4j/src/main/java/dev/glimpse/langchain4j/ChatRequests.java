package dev.glimpse.langchain4j;

import dev.glimpse.core.BadInputException;
import dev.glimpse.fusion.Conversation;
import dev.glimpse.fusion.MultimodalPrompt;
import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.language.GenerationOptions;
import dev.glimpse.vision.ImageLoader;
import dev.langchain4j.data.image.Image;
import dev.langchain4j.data.message.AiMessage;
import dev.langchain4j.data.message.ChatMessage;
import dev.langchain4j.data.message.Content;
import dev.langchain4j.data.message.ImageContent;
import dev.langchain4j.data.message.SystemMessage;
import dev.langchain4j.data.message.TextContent;
import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.exception.InvalidRequestException;
import dev.langchain4j.exception.UnsupportedFeatureException;
import dev.langchain4j.model.chat.request.ChatRequest;
import dev.langchain4j.model.chat.request.ChatRequestParameters;
import dev.langchain4j.model.chat.request.ResponseFormatType;
import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.output.FinishReason;
import dev.langchain4j.model.output.TokenUsage;
import java.awt.image.BufferedImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** LangChain4j requests as Glimpse completions: messages through the model's chat format, images in place. */
final class ChatRequests {
    private ChatRequests() {}

    /** Runs {@code request} on {@code vlm}, passing text to {@code onText} as it is made. */
    static ChatResponse run(VisionLanguageModel vlm, ImageLoader loader, String modelName, Long seed,
                            ChatRequest request, Consumer<String> onText) {
        ChatRequestParameters p = request.parameters();
        refuseUnsupported(p);
        List<Conversation.Message> messages = new ArrayList<>();
        List<BufferedImage> images = new ArrayList<>();
        for (ChatMessage m : request.messages()) {
            if (m instanceof SystemMessage s) {
                messages.add(new Conversation.Message("system", s.text()));
            } else if (m instanceof UserMessage u) {
                StringBuilder text = new StringBuilder();
                for (Content c : u.contents()) {
                    if (c instanceof TextContent t) {
                        text.append(t.text());
                    } else if (c instanceof ImageContent i) {
                        images.add(load(loader, i.image()));
                        text.append(MultimodalPrompt.IMAGE).append('\n');
                    } else {
                        throw new UnsupportedFeatureException("Glimpse takes text and image content, not "
                                + c.type());
                    }
                }
                messages.add(new Conversation.Message("user", text.toString()));
            } else if (m instanceof AiMessage a) {
                if (a.hasToolExecutionRequests()) {
                    throw new UnsupportedFeatureException("Glimpse does not call tools");
                }
                messages.add(new Conversation.Message("assistant", a.text() == null ? "" : a.text()));
            } else {
                throw new UnsupportedFeatureException("Glimpse does not take " + m.type() + " messages");
            }
        }
        GenerationOptions.Builder g = GenerationOptions.builder()
                .maxNewTokens(p.maxOutputTokens() == null ? 256 : p.maxOutputTokens())
                .seed(seed == null ? System.nanoTime() : seed);
        if (p.temperature() != null && p.temperature() > 0) {
            g.sample(p.temperature(), p.topK() == null ? 0 : p.topK(), p.topP() == null ? 1 : p.topP());
        }
        try {
            String prompt = Conversation.render(vlm.tokenizer(), messages);
            VisionLanguageModel.Completion c = vlm.complete(prompt, vlm.features(images), g.build(),
                    p.stopSequences() == null ? List.of() : p.stopSequences(), onText);
            return ChatResponse.builder().aiMessage(AiMessage.from(c.text())).modelName(modelName)
                    .tokenUsage(new TokenUsage(c.promptTokens(), c.completionTokens()))
                    .finishReason(c.truncated() ? FinishReason.LENGTH : FinishReason.STOP).build();
        } catch (BadInputException | IllegalArgumentException e) {
            throw new InvalidRequestException(e.getMessage(), e);
        }
    }

    private static void refuseUnsupported(ChatRequestParameters p) {
        if (p.toolSpecifications() != null && !p.toolSpecifications().isEmpty()) {
            throw new UnsupportedFeatureException("Glimpse does not call tools");
        }
        if (p.responseFormat() != null && p.responseFormat().type() != ResponseFormatType.TEXT) {
            throw new UnsupportedFeatureException("Glimpse answers in text only, not " + p.responseFormat().type());
        }
        if (p.frequencyPenalty() != null && p.frequencyPenalty() != 0
                || p.presencePenalty() != null && p.presencePenalty() != 0) {
            throw new UnsupportedFeatureException("Glimpse has no frequency or presence penalties");
        }
    }

    /** Base64 data, a data: URL or a file: URL; remote URLs are refused (fetch the image yourself). */
    private static BufferedImage load(ImageLoader loader, Image image) {
        if (image.base64Data() != null) {
            return loader.loadBase64(image.base64Data(), "ImageContent");
        }
        if (image.url() == null) {
            throw new InvalidRequestException("ImageContent has neither base64 data nor a URL");
        }
        String scheme = image.url().getScheme() == null ? "" : image.url().getScheme();
        return switch (scheme) {
            case "data" -> loader.loadBase64(image.url().toString(), "ImageContent");
            case "file" -> loader.load(Path.of(image.url()));
            default -> throw new UnsupportedFeatureException("ImageContent URL " + image.url() + ": Glimpse reads"
                    + " base64 data, data: and file: URLs; fetch remote images yourself");
        };
    }
}
