package dev.glimpse.fusion;

import dev.glimpse.core.BadInputException;
import dev.glimpse.language.GenerationOptions;
import dev.glimpse.language.Tokenizer;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A chat request in Glimpse's terms, whatever API it came through (the OpenAI-compatible server, LangChain4j):
 * messages with their images where they appear, generation options and stop strings, each checked here once. An API
 * maps its request onto the {@link Builder}; what does not fit is an {@link Invalid} naming the field, which the API
 * reports its own way (a 400 with OpenAI's {@code param}, LangChain4j's InvalidRequestException).
 */
public record ChatInput(List<Conversation.Message> messages, List<BufferedImage> images, GenerationOptions options,
                        List<String> stops) {
    /** OpenAI's limit on stop strings, which the server keeps. */
    public static final int OPENAI_STOPS = 4;

    public ChatInput {
        messages = List.copyOf(messages);
        images = List.copyOf(images);
        stops = List.copyOf(stops);
    }

    /** A request field that does not fit, with the field's name as the client API spells it. */
    public static final class Invalid extends BadInputException {
        private final String field;

        public Invalid(String message, String field) {
            super(message);
            this.field = field;
        }

        public String field() {
            return field;
        }
    }

    /**
     * A request whose max tokens default to {@code defaultMaxTokens}, with the API's limits on max tokens and stop
     * strings (a service caps what one request may cost; a library call leaves it to the model's context).
     */
    public static Builder builder(int defaultMaxTokens, int maxTokensLimit, int stopsLimit) {
        return new Builder(defaultMaxTokens, maxTokensLimit, stopsLimit);
    }

    /** The prompt for the assistant's answer: the messages through the model's chat format. */
    public String prompt(Tokenizer tokenizer) {
        return Conversation.render(tokenizer, messages);
    }

    /** Messages part by part, then options; {@link #build} checks what is left and makes the input. */
    public static final class Builder {
        private final List<Conversation.Message> messages = new ArrayList<>();
        private final List<BufferedImage> images = new ArrayList<>();
        private final List<String> stops = new ArrayList<>();
        private StringBuilder text;
        private String role;
        private final int maxTokensLimit;
        private final int stopsLimit;
        private int maxTokens;
        private double temperature;
        private int topK;
        private double topP = 1;
        private Long seed;

        private Builder(int defaultMaxTokens, int maxTokensLimit, int stopsLimit) {
            this.maxTokens = defaultMaxTokens;
            this.maxTokensLimit = maxTokensLimit;
            this.stopsLimit = stopsLimit;
        }

        /** Starts a message: system (or OpenAI's newer name, developer), user or assistant. */
        public Builder message(String role, String field) {
            endMessage();
            String r = "developer".equals(role) ? "system" : role;
            if (!List.of("system", "user", "assistant").contains(r)) {
                throw new Invalid(field + ": message role must be system, developer, user or assistant, not '" + role
                        + "'", field + ".role");
            }
            this.role = r;
            this.text = new StringBuilder();
            return this;
        }

        /** Text of the current message; it may not hold an image placeholder (images come as image parts). */
        public Builder text(String t, String field) {
            if (t.contains(MultimodalPrompt.IMAGE)) {
                throw new Invalid(field + ": the text holds '" + MultimodalPrompt.IMAGE + "'; send images as image"
                        + " parts", field);
            }
            current(field).append(t);
            return this;
        }

        /** An image of the current message, where it appears among the text. */
        public Builder image(BufferedImage image, String field) {
            current(field).append(MultimodalPrompt.IMAGE).append('\n');
            images.add(image);
            return this;
        }

        /** New tokens at most, from 1 to the API's limit; null keeps the default. */
        public Builder maxTokens(Integer n, String field) {
            if (n != null) {
                if (n < 1 || n > maxTokensLimit) {
                    throw new Invalid("'" + field + "' must be an integer from 1 to " + maxTokensLimit, field);
                }
                maxTokens = n;
            }
            return this;
        }

        /** Temperature from 0 (greedy, the default) to 2; null keeps the default. */
        public Builder temperature(Double t, String field) {
            if (t != null) {
                temperature = range(t, 0, 2, field);
            }
            return this;
        }

        /** Nucleus mass in (0, 1]; null keeps 1 (off). */
        public Builder topP(Double p, String field) {
            if (p != null) {
                topP = range(p, Double.MIN_VALUE, 1, field);
            }
            return this;
        }

        /** The k likeliest tokens kept when sampling; 0 or null keeps all. */
        public Builder topK(Integer k, String field) {
            if (k != null) {
                if (k < 0) {
                    throw new Invalid("'" + field + "' must be 0 or more", field);
                }
                topK = k;
            }
            return this;
        }

        /** The sampling seed; without one, draws differ from request to request (as OpenAI's). */
        public Builder seed(Long s) {
            this.seed = s;
            return this;
        }

        /** Strings that end the answer (not part of it): up to the API's limit, none empty. */
        public Builder stops(List<String> s, String field) {
            if (s.size() > stopsLimit) {
                throw new Invalid("'" + field + "' must be a string or a list of up to " + stopsLimit + " strings",
                        field);
            }
            if (s.stream().anyMatch(String::isEmpty)) {
                throw new Invalid("'" + field + "' strings must not be empty", field);
            }
            stops.clear();
            stops.addAll(s);
            return this;
        }

        public ChatInput build() {
            endMessage();
            if (messages.isEmpty()) {
                throw new Invalid("'messages' must be a non-empty list", "messages");
            }
            GenerationOptions.Builder g = GenerationOptions.builder().maxNewTokens(maxTokens)
                    .seed(seed != null ? seed : ThreadLocalRandom.current().nextLong());
            if (temperature > 0) {
                g.sample(temperature, topK, topP); // temperature 0 is greedy decoding
            }
            return new ChatInput(messages, images, g.build(), stops);
        }

        private StringBuilder current(String field) {
            if (text == null) {
                throw new Invalid(field + ": content before any message", field);
            }
            return text;
        }

        private void endMessage() {
            if (text != null) {
                messages.add(new Conversation.Message(role, text.toString()));
                text = null;
            }
        }

        private static double range(double v, double min, double max, String field) {
            if (Double.isNaN(v) || v < min || v > max) {
                throw new Invalid("'" + field + "' must be a number from " + (min == Double.MIN_VALUE ? "above 0" : min)
                        + " to " + max, field);
            }
            return v;
        }
    }
}
