package dev.glimpse.core;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * What every fuzz test holds its parser to: it succeeds, or it refuses the input with {@link BadInputException} (the
 * documented bad-input error, naming the file and what was expected). Any other exception, an OutOfMemoryError or a
 * crash is a finding; Jazzer reports it with the input, which then joins the committed corpus as a regression.
 */
public final class Fuzzing {
    private Fuzzing() {}

    /** A parse of outside input. */
    @FunctionalInterface
    public interface Parse {
        void run() throws Exception;
    }

    /** The per-input time limit: a parse that takes longer is a finding (a hang on crafted input). */
    public static final long LIMIT_SECONDS = 5;

    private static final ExecutorService RUNNER = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "glimpse-fuzz-input");
        t.setDaemon(true);
        return t;
    });

    /**
     * Runs {@code parse} within {@link #LIMIT_SECONDS}; returns normally on success or on a BadInputException,
     * rethrows anything else.
     */
    public static void onlyBadInput(Parse parse) {
        Future<?> f = RUNNER.submit(() -> {
            check(parse);
            return null;
        });
        try {
            f.get(LIMIT_SECONDS, TimeUnit.SECONDS);
        } catch (TimeoutException e) {
            f.cancel(true);
            throw new AssertionError("the parse took over " + LIMIT_SECONDS + " s (a hang on this input)");
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw new AssertionError(c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    private static void check(Parse parse) {
        try {
            parse.run();
        } catch (BadInputException expected) {
            if (expected.getMessage() == null || expected.getMessage().isBlank()) {
                throw new AssertionError("a bad-input error without a message", expected);
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Exception e) {
            throw new AssertionError("a checked exception escaped the parser: " + e, e);
        }
    }

    /** A scratch directory for the fuzz inputs of one test class (files are overwritten input after input). */
    public static Path scratch(String name) {
        try {
            Path d = Files.createTempDirectory("glimpse-fuzz-" + name);
            d.toFile().deleteOnExit();
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** One input as two files: the bytes before the first NUL and those after it (the second empty without one). */
    public static byte[][] splitAtNul(byte[] input) {
        for (int i = 0; i < input.length; i++) {
            if (input[i] == 0) {
                return new byte[][] {java.util.Arrays.copyOf(input, i), java.util.Arrays.copyOfRange(input, i + 1,
                        input.length)};
            }
        }
        return new byte[][] {input, new byte[0]};
    }

    /** The bytes of a file (seeds, fixtures). */
    public static byte[] read(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes {@code bytes} to {@code dir/name}, replacing what was there. */
    public static Path write(Path dir, String name, byte[] bytes) {
        try {
            Path p = dir.resolve(name);
            Files.write(p, bytes);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
