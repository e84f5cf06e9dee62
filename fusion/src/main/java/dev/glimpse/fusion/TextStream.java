package dev.glimpse.fusion;

import dev.glimpse.language.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Generated tokens turned into text as they come, for streaming: each new piece is passed on once it is final, never
 * half a character (a token may end inside a UTF-8 sequence) and never the beginning of a stop string. When a stop
 * string appears the text ends before it.
 */
public final class TextStream {
    private final Tokenizer tokenizer;
    private final List<String> stops;
    private final Consumer<String> onText;
    private final List<Integer> tokens = new ArrayList<>();
    private final int holdBack;
    private String text = "";
    private int emitted;
    private boolean stopped;

    /** {@code onText} hears each final piece; {@code stops} end the text (they are not part of it). */
    public TextStream(Tokenizer tokenizer, List<String> stops, Consumer<String> onText) {
        this.tokenizer = tokenizer;
        this.stops = List.copyOf(stops);
        this.onText = onText;
        this.holdBack = stops.stream().mapToInt(String::length).max().orElse(1) - 1;
    }

    /** Takes the next token; false once a stop string ended the text (later tokens are ignored). */
    public boolean accept(int token) {
        if (stopped) {
            return false;
        }
        tokens.add(token);
        text = tokenizer.decode(tokens.stream().mapToInt(Integer::intValue).toArray());
        int cut = -1;
        for (String s : stops) {
            int i = text.indexOf(s, Math.max(0, emitted - s.length()));
            if (i >= 0 && (cut < 0 || i < cut)) {
                cut = i;
            }
        }
        if (cut >= 0) {
            text = text.substring(0, cut);
            stopped = true;
            flush(text.length());
            return false;
        }
        int safe = text.length() - holdBack;
        while (safe > emitted && text.charAt(safe - 1) == '\uFFFD') {
            safe--; // an incomplete character: wait for the token that completes it
        }
        flush(safe);
        return true;
    }

    /** Passes on what is still held back (the generation ended) and returns the whole text. */
    public String finish() {
        flush(text.length());
        return text;
    }

    /** Whether a stop string ended the text. */
    public boolean stopped() {
        return stopped;
    }

    /** The text so far (including what is held back). */
    public String text() {
        return text;
    }

    private void flush(int upTo) {
        if (upTo > emitted) {
            onText.accept(text.substring(emitted, upTo));
            emitted = upTo;
        }
    }
}
