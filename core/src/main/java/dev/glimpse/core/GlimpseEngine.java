package dev.glimpse.core;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place where Glimpse starts DJL. It must run before any other DJL class is touched. Glimpse sets these
 * JVM-wide system properties, each only when the application (or the command line) has not set it already:
 * <ul>
 *   <li>{@code ai.djl.offline=true}: DJL would otherwise download native libraries and models on its own; Glimpse's
 *       only network access is a model download the user asks for ({@link ModelRepository}).</li>
 *   <li>{@code OPT_OUT_TRACKING=true} (unless the environment variable of that name is set): DJL's telemetry would
 *       otherwise probe the cloud metadata address 169.254.169.254 at start-up.</li>
 *   <li>{@code ai.djl.pytorch.num_interop_threads=1}: libtorch would start an inter-op pool on top of the intra-op
 *       one; Glimpse's work is one large op at a time.</li>
 *   <li>{@code ai.djl.pytorch.num_threads}: only when {@link #threads(int)}, {@code glimpse.threads} or
 *       {@code GLIMPSE_THREADS} asks for a thread count.</li>
 * </ul>
 * It also sets the process environment variable {@code TORCH_ALLOW_TF32_CUBLAS_OVERRIDE=1} before libtorch starts,
 * so fp32 matrix products on GPUs that have TF32 (Ampere and later) use it, as PyTorch users switch on with
 * {@code torch.backends.cuda.matmul.allow_tf32}: about 3× the fp32 speed at a 10-bit mantissa in the products. Turn
 * it off with {@code glimpse.tf32=false} or {@code GLIMPSE_TF32=false} (exact fp32, e.g. for parity checks); an
 * explicit {@code TORCH_ALLOW_TF32_CUBLAS_OVERRIDE} in the environment is left as it is. CPUs are not affected.
 * An application that wants other values sets them before its first Glimpse call. Logging goes through SLF4J; the
 * application chooses the binding.
 *
 * <p>Thread-safe: every method may be called from any thread.
 */
public final class GlimpseEngine {
    private static final Logger LOG = LoggerFactory.getLogger(GlimpseEngine.class);
    private static volatile Engine engine;
    private static volatile Device device;

    private GlimpseEngine() {}

    static {
        configureProperties();
    }

    /** Sets DJL's offline, no-telemetry and inter-op switches unless the application set them explicitly. */
    public static void configureProperties() {
        setIfAbsent("ai.djl.offline", "true");
        if (System.getenv("OPT_OUT_TRACKING") == null) {
            setIfAbsent("OPT_OUT_TRACKING", "true");
        }
        setIfAbsent("ai.djl.pytorch.num_interop_threads", "1");
    }

    private static void setIfAbsent(String key, String value) {
        if (System.getProperty(key) == null) {
            System.setProperty(key, value);
        }
    }

    /**
     * Sets libtorch's intra-op thread count (JVM-wide: libtorch has one pool per process). Before the engine starts
     * this becomes {@code ai.djl.pytorch.num_threads}; afterwards it is applied to the running pool.
     */
    public static void threads(int n) {
        if (n < 1) {
            throw new BadInputException("thread count must be >= 1, got " + n);
        }
        synchronized (GlimpseEngine.class) {
            if (engine == null) {
                System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(n));
                return;
            }
        }
        ai.djl.pytorch.jni.JniUtils.setNumThreads(n);
    }

    /** The PyTorch engine, started once. */
    public static Engine engine() {
        Engine e = engine;
        if (e == null) {
            synchronized (GlimpseEngine.class) {
                if (engine == null) {
                    configureProperties();
                    String threads = System.getProperty("glimpse.threads", System.getenv("GLIMPSE_THREADS"));
                    if (threads != null && System.getProperty("ai.djl.pytorch.num_threads") == null) {
                        System.setProperty("ai.djl.pytorch.num_threads", threads);
                    }
                    allowTf32();
                    try {
                        engine = Engine.getEngine("PyTorch");
                    } catch (RuntimeException | UnsatisfiedLinkError ex) {
                        throw new GlimpseException("cannot start the PyTorch engine (libtorch missing or not loadable;"
                                + " offline mode needs the pytorch-native jar on the class path): " + ex.getMessage(), ex);
                    }
                }
                e = engine;
            }
        }
        return e;
    }

    /** Whether fp32 products may use TF32 on a GPU: {@code glimpse.tf32} / {@code GLIMPSE_TF32}, default true. */
    public static boolean tf32() {
        String v = System.getProperty("glimpse.tf32", System.getenv("GLIMPSE_TF32"));
        return v == null || !v.trim().equalsIgnoreCase("false");
    }

    /** libtorch reads the override once, at its first cuBLAS call: set it in this process's environment first. */
    private static void allowTf32() {
        if (!tf32() || System.getenv("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE") != null
                || System.getProperty("os.name", "").startsWith("Windows")) {
            return;
        }
        try {
            LibC.INSTANCE.setenv("TORCH_ALLOW_TF32_CUBLAS_OVERRIDE", "1", 0);
        } catch (RuntimeException | LinkageError e) {
            LOG.debug("cannot set TORCH_ALLOW_TF32_CUBLAS_OVERRIDE: {}", e.toString());
        }
    }

    /** The C library's setenv, through JNA (which DJL already brings). */
    private interface LibC extends com.sun.jna.Library {
        LibC INSTANCE = com.sun.jna.Native.load("c", LibC.class);

        int setenv(String name, String value, int overwrite);
    }

    /**
     * The device Glimpse computes on: a GPU when one is present and {@code glimpse.device} / {@code GLIMPSE_DEVICE}
     * is not {@code cpu}; the CPU otherwise. Logs the choice once.
     */
    public static Device device() {
        Device d = device;
        if (d == null) {
            synchronized (GlimpseEngine.class) {
                if (device == null) {
                    Engine e = engine();
                    String want = System.getProperty("glimpse.device", System.getenv("GLIMPSE_DEVICE"));
                    boolean gpuWanted = want == null || want.startsWith("gpu") || want.startsWith("cuda");
                    if (gpuWanted && e.getGpuCount() > 0) {
                        device = Device.gpu();
                        LOG.info("Glimpse computes on {} ({} GPU(s) found)", device, e.getGpuCount());
                    } else {
                        device = Device.cpu();
                        if (want != null && !want.equals("cpu")) {
                            LOG.warn("GPU requested but none is usable by libtorch; falling back to the CPU");
                        } else {
                            LOG.debug("Glimpse computes on the CPU");
                        }
                    }
                }
                d = device;
            }
        }
        return d;
    }

    /** A new root manager on the chosen device; close it to free its native memory. */
    public static NDManager newManager() {
        return NDManager.newBaseManager(device(), engine().getEngineName());
    }

    /** A new root manager on {@code device} (e.g. {@code Device.cpu()}, {@code Device.gpu(0)}). */
    public static NDManager newManager(Device device) {
        if (device.isGpu() && device.getDeviceId() >= engine().getGpuCount()) {
            throw new BadInputException("device " + device + " requested but libtorch sees " + engine().getGpuCount()
                    + " GPU(s)");
        }
        return NDManager.newBaseManager(device, engine().getEngineName());
    }

    /** A new root manager on the CPU. */
    public static NDManager newCpuManager() {
        return NDManager.newBaseManager(Device.cpu(), engine().getEngineName());
    }
}
