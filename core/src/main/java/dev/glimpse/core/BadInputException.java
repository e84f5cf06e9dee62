package dev.glimpse.core;

/**
 * The user's input (a file, a field, an argument) is not what Glimpse expects. The message names the input and
 * what was expected; command-line tools exit with code 2 on it.
 */
public class BadInputException extends GlimpseException {
    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
