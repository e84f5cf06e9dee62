package dev.glimpse.core;

/** Any failure Glimpse reports to its user. The message is meant to be read by a person as it is. */
public class GlimpseException extends RuntimeException {
    public GlimpseException(String message) {
        super(message);
    }

    public GlimpseException(String message, Throwable cause) {
        super(message, cause);
    }
}
