package dev.glimpse.core;

import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Where ONNX Runtime's native calls run. Its start-up and kernels can need more stack than a Java thread's default
 * 1 MB (a JVM on a long class path crashed with SIGSEGV, no hs_err, inside OrtEnvironment.getEnvironment()), so
 * every call goes to these daemon threads with 64 MB stacks, whatever thread the caller is on.
 */
public final class OnnxThreads {
    private static final ExecutorService NATIVE = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(null, r, "glimpse-onnx", 64L << 20);
        t.setDaemon(true);
        return t;
    });

    private OnnxThreads() {}

    /** Runs {@code work} on a big-stack thread and returns its result; its exceptions reach the caller. */
    public static <T> T call(Callable<T> work) {
        try {
            return NATIVE.submit(work).get();
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof RuntimeException r) {
                throw r;
            }
            if (c instanceof Error err) {
                throw err;
            }
            throw new GlimpseException("ONNX Runtime failed: " + c, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new GlimpseException("interrupted while waiting for ONNX Runtime");
        }
    }
}
