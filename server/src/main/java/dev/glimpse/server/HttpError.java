package dev.glimpse.server;

/** An HTTP error with its status and, for 400s about one request field, that field (OpenAI's {@code param}). */
final class HttpError extends RuntimeException {
    final int status;
    final String param;

    HttpError(int status, String message) {
        this(status, message, null);
    }

    HttpError(int status, String message, String param) {
        super(message);
        this.status = status;
        this.param = param;
    }
}
