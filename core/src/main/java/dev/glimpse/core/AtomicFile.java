package dev.glimpse.core;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writes a file so that readers see either the old content or the complete new content, never a torn file:
 * write a temporary file beside the target, fsync it, rename it over the target, fsync the directory.
 */
public final class AtomicFile {
    private AtomicFile() {}

    /** Receives the open temporary file. */
    @FunctionalInterface
    public interface Writer {
        void write(FileChannel out) throws IOException;
    }

    public static void write(Path target, Writer writer) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writer.write(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            tmp = null;
            syncDirectory(dir);
        } catch (IOException e) {
            throw new GlimpseException("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the temporary file is named so that it is recognisable; nothing else to do
                }
            }
        }
    }

    /**
     * Deletes the temporary files that writes into {@code dir} left when their process was killed mid-write (they
     * are never read: the target kept its old content). Returns how many.
     */
    public static int removeLeftovers(Path dir) {
        int n = 0;
        try (var ls = Files.list(dir)) {
            for (Path p : (Iterable<Path>) ls::iterator) {
                if (p.getFileName().toString().matches("\\..+\\.\\d+\\.tmp") && Files.isRegularFile(p)) {
                    Files.deleteIfExists(p);
                    n++;
                }
            }
        } catch (IOException | java.io.UncheckedIOException e) {
            // nothing to tidy, or it cannot be listed: the leftovers are harmless
        }
        return n;
    }

    /**
     * Removes a folder an unfinished write left (a build or an export that failed), best effort: what cannot be
     * removed stays hidden under its temporary name and is never taken for a finished one.
     */
    public static void deleteTree(Path p) {
        try (var s = Files.walk(p)) {
            for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        } catch (IOException | java.io.UncheckedIOException ignored) {
            // best effort, as above
        }
    }

    public static void writeString(Path target, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        write(target, ch -> {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        });
    }

    /** Makes a rename durable; a no-op where directories cannot be opened (e.g. Windows). */
    static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort: not every platform allows fsync on a directory
        }
    }
}
