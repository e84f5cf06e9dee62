package dev.glimpse.eval;

import java.nio.file.Path;

/** Something in an input file that could not be used: where it is and why. Counted in reports, never dropped. */
public record LoadIssue(Path file, int line, String id, String message) {
    @Override
    public String toString() {
        return file + ":" + line + (id == null ? "" : " (id " + id + ")") + ": " + message;
    }
}
