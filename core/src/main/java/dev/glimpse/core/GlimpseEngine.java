package dev.glimpse.core;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import java.util.logging.Logger;

/**
 * The one place where Glimpse starts DJL. It must run before any other DJL class is touched: it puts DJL in offline
 * mode (DJL would otherwise download libraries on its own) and opts out of DJL's telemetry (which otherwise probes
 * the cloud metadata address 169.254.169.254 at start-up), sets thread counts, and picks the device.
 */
public final class GlimpseEngine {
    private static final Logger LOG = Logger.getLogger(GlimpseEngine.class.getName());
    private static volatile Engine engine;
    private static volatile Device device;

    private GlimpseEngine() {}

    static {
        configureProperties();
    }

    /** Sets DJL's offline and no-telemetry switches unless the user set them explicitly. */
    public static void configureProperties() {
        if (System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        System.setProperty("OPT_OUT_TRACKING", "true");
        // DJL's PyTorch engine would otherwise start its own inter-op pool on top of the intra-op one
        if (System.getProperty("ai.djl.pytorch.num_interop_threads") == null) {
            System.setProperty("ai.djl.pytorch.num_interop_threads", "1");
        }
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
                        LOG.info("Glimpse computes on " + device + " (" + e.getGpuCount() + " GPU(s) found)");
                    } else {
                        device = Device.cpu();
                        if (want != null && !want.equals("cpu")) {
                            LOG.warning("GPU requested but none is usable by libtorch; falling back to the CPU");
                        } else {
                            LOG.fine("Glimpse computes on the CPU");
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

    /** A new root manager on the CPU. */
    public static NDManager newCpuManager() {
        return NDManager.newBaseManager(Device.cpu(), engine().getEngineName());
    }
}
