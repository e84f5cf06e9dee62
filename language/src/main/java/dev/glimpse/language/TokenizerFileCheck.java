package dev.glimpse.language;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.glimpse.core.BadInputException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/**
 * Checks a tokenizer.json in Java before Hugging Face's Rust library reads it. That library aborts the whole process
 * (a panic across the JNI boundary) on some malformed files, e.g. a decoder whose fields fail to parse, where it
 * should return an error: found by fuzzing (TokenizerFuzzTest). Here every component's {@code type} must be one the
 * library knows and every field it reads must have the JSON type it expects; anything else is a BadInputException
 * naming the file and the field.
 */
final class TokenizerFileCheck {
    private static final ObjectMapper JSON = new ObjectMapper().enable(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    // field kinds: b bool, s string, c one character, i non-negative integer, n number, a array, o object,
    // p a pattern object ({"String": ..} or {"Regex": ..}), t a sequence of components; a trailing ? allows null
    private static final Map<String, Map<String, String>> NORMALIZERS = Map.ofEntries(
            Map.entry("BertNormalizer", Map.of("clean_text", "b", "handle_chinese_chars", "b", "strip_accents", "b?",
                    "lowercase", "b")),
            Map.entry("Strip", Map.of("strip_left", "b", "strip_right", "b")), Map.entry("StripAccents", Map.of()),
            Map.entry("NFC", Map.of()), Map.entry("NFD", Map.of()), Map.entry("NFKC", Map.of()),
            Map.entry("NFKD", Map.of()), Map.entry("Sequence", Map.of("normalizers", "t")),
            Map.entry("Lowercase", Map.of()), Map.entry("Nmt", Map.of()),
            Map.entry("Precompiled", Map.of("precompiled_charsmap", "s?")),
            Map.entry("Replace", Map.of("pattern", "p", "content", "s")), Map.entry("Prepend", Map.of("prepend", "s")),
            Map.entry("ByteLevel", Map.of()));
    private static final Map<String, Map<String, String>> PRE_TOKENIZERS = Map.ofEntries(
            Map.entry("BertPreTokenizer", Map.of()),
            Map.entry("ByteLevel", Map.of("add_prefix_space", "b", "trim_offsets", "b", "use_regex", "b")),
            Map.entry("Delimiter", Map.of("delimiter", "c")),
            Map.entry("Metaspace", Map.of("replacement", "c", "prepend_scheme", "s", "split", "b",
                    "add_prefix_space", "b")),
            Map.entry("Whitespace", Map.of()), Map.entry("Sequence", Map.of("pretokenizers", "t")),
            Map.entry("Split", Map.of("pattern", "p", "behavior", "s", "invert", "b")),
            Map.entry("Punctuation", Map.of("behavior", "s")), Map.entry("WhitespaceSplit", Map.of()),
            Map.entry("Digits", Map.of("individual_digits", "b")), Map.entry("UnicodeScripts", Map.of()),
            Map.entry("FixedLength", Map.of("length", "i")));
    private static final Map<String, Map<String, String>> POST_PROCESSORS = Map.ofEntries(
            Map.entry("RobertaProcessing", Map.of("sep", "a", "cls", "a", "trim_offsets", "b",
                    "add_prefix_space", "b")),
            Map.entry("BertProcessing", Map.of("sep", "a", "cls", "a")),
            Map.entry("ByteLevel", Map.of("add_prefix_space", "b", "trim_offsets", "b", "use_regex", "b")),
            Map.entry("TemplateProcessing", Map.of("special_tokens", "o")),
            Map.entry("Sequence", Map.of("processors", "t")));
    private static final Map<String, Map<String, String>> DECODERS = Map.ofEntries(
            Map.entry("BPEDecoder", Map.of("suffix", "s")),
            Map.entry("ByteLevel", Map.of("add_prefix_space", "b", "trim_offsets", "b", "use_regex", "b")),
            Map.entry("WordPiece", Map.of("prefix", "s", "cleanup", "b")),
            Map.entry("Metaspace", Map.of("replacement", "c", "prepend_scheme", "s", "split", "b",
                    "add_prefix_space", "b")),
            Map.entry("CTC", Map.of("pad_token", "s", "word_delimiter_token", "s", "cleanup", "b")),
            Map.entry("Sequence", Map.of("decoders", "t")), Map.entry("Replace", Map.of("pattern", "p", "content", "s")),
            Map.entry("Fuse", Map.of()), Map.entry("Strip", Map.of("content", "c", "start", "i", "stop", "i")),
            Map.entry("ByteFallback", Map.of()));
    private static final Map<String, Map<String, String>> MODELS = Map.ofEntries(
            Map.entry("BPE", Map.of("dropout", "n?", "unk_token", "s?", "continuing_subword_prefix", "s?",
                    "end_of_word_suffix", "s?", "fuse_unk", "b", "byte_fallback", "b", "ignore_merges", "b",
                    "vocab", "o", "merges", "a")),
            Map.entry("WordPiece", Map.of("unk_token", "s", "continuing_subword_prefix", "s",
                    "max_input_chars_per_word", "i", "vocab", "o")),
            Map.entry("WordLevel", Map.of("vocab", "o", "unk_token", "s")),
            Map.entry("Unigram", Map.of("unk_id", "i?", "vocab", "a", "byte_fallback", "b")));
    private static final Map<String, String> ADDED_TOKEN = Map.of("id", "i", "content", "s", "single_word", "b",
            "lstrip", "b", "rstrip", "b", "normalized", "b", "special", "b");

    private TokenizerFileCheck() {}

    static void check(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readAllBytes(file));
        } catch (IOException e) {
            throw new BadInputException(file + ": not valid JSON: " + e.getMessage().split("\n")[0], e);
        }
        if (root == null || !root.isObject()) {
            throw new BadInputException(file + ": must be a JSON object");
        }
        String f = file.toString();
        component(f, "normalizer", root.get("normalizer"), NORMALIZERS, "normalizers");
        component(f, "pre_tokenizer", root.get("pre_tokenizer"), PRE_TOKENIZERS, "pretokenizers");
        component(f, "post_processor", root.get("post_processor"), POST_PROCESSORS, "processors");
        component(f, "decoder", root.get("decoder"), DECODERS, "decoders");
        JsonNode model = root.get("model");
        if (model == null || !model.isObject()) {
            throw new BadInputException(f + ": field 'model' must be an object");
        }
        String type = model.has("type") ? text(f, "model.type", model.get("type")) : "BPE";
        Map<String, String> fields = MODELS.get(type);
        if (fields == null) {
            throw new BadInputException(f + ": model.type '" + type + "' is not one of " + MODELS.keySet());
        }
        fields(f, "model", model, fields, null);
        JsonNode vocab = model.get("vocab");
        if (vocab != null && vocab.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                kind(f, "model.vocab['" + e.getKey() + "']", e.getValue(), "i");
            }
        }
        if (type.equals("BPE")) {
            merges(f, model);
        }
        JsonNode added = root.get("added_tokens");
        if (added != null && !added.isNull()) {
            if (!added.isArray()) {
                throw new BadInputException(f + ": field 'added_tokens' must be a list");
            }
            for (int i = 0; i < added.size(); i++) {
                if (!added.get(i).isObject()) {
                    throw new BadInputException(f + ": added_tokens[" + i + "] must be an object");
                }
                fields(f, "added_tokens[" + i + "]", added.get(i), ADDED_TOKEN, null);
            }
        }
        for (String k : new String[] {"truncation", "padding"}) {
            JsonNode v = root.get(k);
            if (v != null && !v.isNull() && !v.isObject()) {
                throw new BadInputException(f + ": field '" + k + "' must be an object or null");
            }
        }
    }

    /**
     * BPE merges: "a b" strings or [a, b] pairs. With a continuing_subword_prefix the library cuts that many bytes off
     * each second part (and panics when it cannot).
     */
    private static void merges(String f, JsonNode model) {
        JsonNode merges = model.get("merges");
        if (merges == null || merges.isNull()) {
            return;
        }
        JsonNode p = model.get("continuing_subword_prefix");
        int prefix = p != null && p.isTextual() ? p.asText().getBytes(java.nio.charset.StandardCharsets.UTF_8).length
                : 0;
        for (int i = 0; i < merges.size(); i++) {
            JsonNode m = merges.get(i);
            String second;
            if (m.isTextual()) {
                String[] parts = m.asText().split(" ", -1);
                if (parts.length != 2) {
                    throw new BadInputException(f + ": model.merges[" + i + "] must be two tokens separated by one"
                            + " space");
                }
                second = parts[1];
            } else if (m.isArray() && m.size() == 2 && m.get(0).isTextual() && m.get(1).isTextual()) {
                second = m.get(1).asText();
            } else {
                throw new BadInputException(f + ": model.merges[" + i + "] must be \"a b\" or [\"a\", \"b\"]");
            }
            if (prefix > 0) {
                byte[] b = second.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                if (b.length < prefix || (prefix < b.length && (b[prefix] & 0xC0) == 0x80)) {
                    throw new BadInputException(f + ": model.merges[" + i + "]: its second token '" + second
                            + "' is shorter than continuing_subword_prefix or splits a character there");
                }
            }
        }
    }

    private static void component(String f, String where, JsonNode n, Map<String, Map<String, String>> kinds,
                                  String sequenceField) {
        if (n == null || n.isNull()) {
            return;
        }
        if (!n.isObject()) {
            throw new BadInputException(f + ": " + where + " must be an object or null");
        }
        String type = text(f, where + ".type", n.get("type"));
        Map<String, String> fields = kinds.get(type);
        if (fields == null) {
            throw new BadInputException(f + ": " + where + ".type '" + type + "' is not one of " + kinds.keySet());
        }
        fields(f, where, n, fields, (name, list) -> {
            for (int i = 0; i < list.size(); i++) {
                component(f, where + "." + name + "[" + i + "]", list.get(i), kinds, sequenceField);
            }
        });
    }

    private interface Sequence {
        void check(String name, JsonNode list);
    }

    private static void fields(String f, String where, JsonNode n, Map<String, String> fields, Sequence seq) {
        for (Map.Entry<String, String> e : fields.entrySet()) {
            JsonNode v = n.get(e.getKey());
            if (v == null) {
                continue; // absent fields take the library's defaults
            }
            String w = where + "." + e.getKey();
            kind(f, w, v, e.getValue());
            if (e.getValue().equals("t") && seq != null) {
                seq.check(e.getKey(), v);
            }
        }
    }

    private static void kind(String f, String where, JsonNode v, String kind) {
        boolean nullable = kind.endsWith("?");
        String k = nullable ? kind.substring(0, kind.length() - 1) : kind;
        if (v.isNull()) {
            if (!nullable) {
                throw new BadInputException(f + ": " + where + " must not be null");
            }
            return;
        }
        boolean ok = switch (k) {
            case "b" -> v.isBoolean();
            case "s" -> v.isTextual();
            case "c" -> v.isTextual() && v.asText().codePointCount(0, v.asText().length()) == 1;
            case "i" -> v.isIntegralNumber() && v.canConvertToLong() && v.asLong() >= 0 && v.asLong() <= 0xFFFFFFFFL;
            case "n" -> v.isNumber();
            case "a", "t" -> v.isArray();
            case "o" -> v.isObject();
            case "p" -> v.isObject() && v.size() == 1 && (v.path("String").isTextual() || v.path("Regex").isTextual());
            default -> throw new IllegalStateException(k);
        };
        if (!ok) {
            throw new BadInputException(f + ": " + where + " must be " + switch (k) {
                case "b" -> "true or false";
                case "s" -> "a string";
                case "c" -> "a single character";
                case "i" -> "a non-negative integer";
                case "n" -> "a number";
                case "a", "t" -> "a list";
                case "o" -> "an object";
                default -> "{\"String\": ...} or {\"Regex\": ...}";
            });
        }
    }

    private static String text(String f, String where, JsonNode v) {
        if (v == null || !v.isTextual()) {
            throw new BadInputException(f + ": " + where + " must be a string");
        }
        return v.asText();
    }
}
