package dev.glimpse.core;

/** Receives progress of long work: units done out of total (total may grow), with a short status. */
@FunctionalInterface
public interface Progress {
    Progress NONE = (done, total, status) -> { };

    void update(long done, long total, String status);
}
