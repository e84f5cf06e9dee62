package dev.glimpse.language;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import ai.djl.huggingface.tokenizers.jni.CharSpan;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseEngine;
import dev.glimpse.core.TokenizerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;

/**
 * A Hugging Face {@code tokenizer.json} through DJL's binding to the Rust tokenizers library, with truncation and
 * padding switched off (DJL truncates to 512 tokens unless told not to) and the chat template of
 * {@code tokenizer_config.json} when the model has one.
 *
 * <p>Thread-safe once loaded: encoding and decoding only read the vocabulary.
 */
public final class Tokenizer implements AutoCloseable {
    /** Token ids and, for each token, the [start, end) character offsets in the text. */
    public record Tokens(int[] ids, int[][] offsets) {}

    private final Path file;
    private final HuggingFaceTokenizer tokenizer;
    private final TokenizerConfig config;
    private final Map<String, Integer> added = new HashMap<>();
    private final Set<Integer> special = new HashSet<>();
    private final ChatTemplate chatTemplate;
    private volatile ChatTemplate otherTemplate;

    private Tokenizer(Path file, HuggingFaceTokenizer tokenizer, TokenizerConfig config) {
        this.file = file;
        this.tokenizer = tokenizer;
        this.config = config;
        readAddedTokens();
        this.chatTemplate = config.chatTemplate() == null ? null : new ChatTemplate(config.chatTemplate(), config);
    }

    /** Loads {@code tokenizer.json} (and tokenizer_config.json when present) from a model directory. */
    public static Tokenizer load(Path dir) {
        Path file = Files.isDirectory(dir) ? dir.resolve("tokenizer.json") : dir;
        Path cfgDir = file.toAbsolutePath().getParent();
        if (!Files.isRegularFile(file)) {
            throw new BadInputException(file + ": no tokenizer.json (Glimpse needs the fast-tokenizer file)");
        }
        GlimpseEngine.configureProperties();
        TokenizerFileCheck.check(file); // the native parser aborts the process on some malformed files
        try {
            HuggingFaceTokenizer t = HuggingFaceTokenizer.builder().optTokenizerPath(file)
                    .optTruncation(false).optPadding(false).optAddSpecialTokens(true).build();
            return new Tokenizer(file, t, TokenizerConfig.read(cfgDir));
        } catch (IOException | RuntimeException e) {
            throw new BadInputException(file + ": cannot load tokenizer: " + e.getMessage(), e);
        }
    }

    private void readAddedTokens() {
        try {
            JsonNode root = new ObjectMapper().readTree(file.toFile());
            for (JsonNode t : root.path("added_tokens")) {
                added.put(t.path("content").asText(), t.path("id").asInt());
                if (t.path("special").asBoolean(false)) {
                    special.add(t.path("id").asInt());
                }
            }
            JsonNode vocab = root.path("model").path("vocab");
            if (vocab.isObject()) {
                for (String tok : new String[] {config.bosToken(), config.eosToken(), config.unkToken(), config.padToken()}) {
                    if (tok != null && !added.containsKey(tok) && vocab.has(tok)) {
                        added.put(tok, vocab.get(tok).asInt());
                    }
                }
            }
        } catch (IOException e) {
            throw new BadInputException(file + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** Encodes with the tokenizer's special tokens (e.g. BOS), never truncating. */
    public int[] encode(String text) {
        return encode(text, true);
    }

    public int[] encode(String text, boolean addSpecialTokens) {
        return toInts(nativeCall(() -> tokenizer.encode(text, addSpecialTokens, false)).getIds());
    }

    /** The Rust tokenizer reports a broken file lazily (e.g. a WordLevel vocabulary without its unk token). */
    private <T> T nativeCall(java.util.function.Supplier<T> call) {
        try {
            return call.get();
        } catch (BadInputException e) {
            throw e;
        } catch (RuntimeException e) {
            throw new BadInputException(file + ": the tokenizer failed: " + e.getMessage(), e);
        }
    }

    /** Ids with character offsets of each token. */
    public Tokens encodeWithOffsets(String text, boolean addSpecialTokens) {
        Encoding e = nativeCall(() -> tokenizer.encode(text, addSpecialTokens, false));
        CharSpan[] spans = e.getCharTokenSpans();
        int[][] offsets = new int[spans.length][];
        for (int i = 0; i < spans.length; i++) {
            offsets[i] = spans[i] == null ? new int[] {0, 0} : new int[] {spans[i].getStart(), spans[i].getEnd()};
        }
        return new Tokens(toInts(e.getIds()), offsets);
    }

    public String decode(int[] ids) {
        return decode(ids, true);
    }

    public String decode(int[] ids, boolean skipSpecialTokens) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            l[i] = ids[i];
        }
        return nativeCall(() -> tokenizer.decode(l, skipSpecialTokens));
    }

    /** The id of an added or special token such as {@code <s>} or {@code <image>}. */
    public OptionalInt tokenId(String token) {
        Integer id = added.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    public boolean isSpecial(int id) {
        return special.contains(id);
    }

    public TokenizerConfig config() {
        return config;
    }

    public boolean hasChatTemplate() {
        return chatTemplate != null;
    }

    /**
     * Renders messages ({@code role}, {@code content}) with the model's chat template.
     *
     * @throws BadInputException when the model has no chat template
     */
    public String applyChatTemplate(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        if (chatTemplate == null) {
            throw new BadInputException(file.getParent() + ": tokenizer_config.json has no chat_template");
        }
        return chatTemplate.render(messages, addGenerationPrompt);
    }

    /**
     * Renders messages with {@code template} (a Jinja chat template) instead of the model's own, with this
     * tokenizer's special tokens, as transformers renders a template passed to {@code apply_chat_template}.
     */
    public String applyChatTemplate(String template, List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        ChatTemplate t = otherTemplate;
        if (t == null || !t.template().equals(template)) {
            t = new ChatTemplate(template, config);
            otherTemplate = t; // a racing thread builds its own: the field only saves the next call the parse
        }
        return t.render(messages, addGenerationPrompt);
    }

    private static int[] toInts(long[] ids) {
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
