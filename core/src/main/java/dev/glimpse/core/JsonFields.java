package dev.glimpse.core;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Reads typed fields from a JSON config file; every error names the file and the field. */
final class JsonFields {
    static final ObjectMapper MAPPER = new ObjectMapper();

    private final String source;
    private final JsonNode node;

    JsonFields(String source, JsonNode node) {
        this.source = source;
        this.node = node;
    }

    static JsonFields read(Path file) {
        try {
            JsonNode n = MAPPER.readTree(Files.readString(file));
            if (n == null || !n.isObject()) {
                throw new BadInputException(file + ": expected a JSON object");
            }
            return new JsonFields(file.toString(), n);
        } catch (NoSuchFileException e) {
            throw new BadInputException(file + ": file not found");
        } catch (IOException e) {
            throw new BadInputException(file + ": not valid JSON: " + e.getMessage().split("\n")[0], e);
        }
    }

    JsonNode node() {
        return node;
    }

    String source() {
        return source;
    }

    boolean has(String field) {
        JsonNode v = node.get(field);
        return v != null && !v.isNull();
    }

    JsonFields object(String field) {
        JsonNode v = node.get(field);
        if (v == null || !v.isObject()) {
            throw bad(field, "an object");
        }
        return new JsonFields(source + " " + field, v);
    }

    JsonFields objectOrNull(String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : object(field);
    }

    int integer(String field) {
        JsonNode v = node.get(field);
        if (v == null || !v.isIntegralNumber() || !v.canConvertToInt()) {
            throw bad(field, "an integer");
        }
        return v.asInt();
    }

    int integer(String field, int dflt) {
        return has(field) ? integer(field) : dflt;
    }

    Integer integerOrNull(String field) {
        return has(field) ? integer(field) : null;
    }

    double number(String field) {
        JsonNode v = node.get(field);
        if (v == null || !v.isNumber()) {
            throw bad(field, "a number");
        }
        return v.asDouble();
    }

    double number(String field, double dflt) {
        return has(field) ? number(field) : dflt;
    }

    boolean bool(String field, boolean dflt) {
        if (!has(field)) {
            return dflt;
        }
        JsonNode v = node.get(field);
        if (!v.isBoolean()) {
            throw bad(field, "true or false");
        }
        return v.asBoolean();
    }

    String text(String field) {
        JsonNode v = node.get(field);
        if (v == null || !v.isTextual()) {
            throw bad(field, "a string");
        }
        return v.asText();
    }

    String text(String field, String dflt) {
        return has(field) ? text(field) : dflt;
    }

    /** An integer or a list of integers (as eos_token_id may be); empty when absent. */
    List<Integer> intList(String field) {
        List<Integer> out = new ArrayList<>();
        if (!has(field)) {
            return out;
        }
        JsonNode v = node.get(field);
        if (v.isIntegralNumber()) {
            out.add(v.asInt());
        } else if (v.isArray()) {
            for (JsonNode e : v) {
                if (!e.isIntegralNumber()) {
                    throw bad(field, "an integer or a list of integers");
                }
                out.add(e.asInt());
            }
        } else {
            throw bad(field, "an integer or a list of integers");
        }
        return out;
    }

    float[] floats(String field, float[] dflt) {
        if (!has(field)) {
            return dflt;
        }
        JsonNode v = node.get(field);
        if (v.isNumber()) {
            return new float[] {(float) v.asDouble(), (float) v.asDouble(), (float) v.asDouble()};
        }
        if (!v.isArray()) {
            throw bad(field, "a list of numbers");
        }
        float[] out = new float[v.size()];
        for (int i = 0; i < out.length; i++) {
            if (!v.get(i).isNumber()) {
                throw bad(field, "a list of numbers");
            }
            out[i] = (float) v.get(i).asDouble();
        }
        return out;
    }

    BadInputException bad(String field, String expected) {
        JsonNode v = node.get(field);
        return new BadInputException(source + ": field '" + field + "' "
                + (v == null || v.isNull() ? "is missing" : "is " + abbreviate(v.toString())) + ", expected " + expected);
    }

    private static String abbreviate(String s) {
        return s.length() > 60 ? s.substring(0, 57) + "..." : s;
    }
}
