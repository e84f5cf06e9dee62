package dev.glimpse.vision;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.GlimpseException;
import dev.glimpse.core.ModelConfig;
import dev.glimpse.core.OnnxThreads;
import dev.glimpse.core.VisionTowerConfig;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A vision tower exported to ONNX, run by ONNX Runtime: one session per model, CPU by default, the CUDA execution
 * provider when asked and available (one log line and a clean fallback otherwise). The feature layer is chosen by
 * output name ({@code last_hidden_state} by default; −1/−2 map to last/penultimate_hidden_state).
 */
public final class OnnxVisionTower implements VisionTower {
    private static final Logger LOG = LoggerFactory.getLogger(OnnxVisionTower.class);

    private final OrtEnvironment env;
    private final OrtSession session;
    private final String inputName;
    private final String output;
    private final boolean dropCls;
    private final ImageProcessor processor;
    private final int tokens;
    private final int dim;
    private final String id;
    private final boolean hasPooled;
    private final long[] inputHw;
    private final String name;
    private final String layerName;

    private OnnxVisionTower(Builder b) {
        Path file = Files.isDirectory(b.path) ? b.path.resolve("vision_model.onnx") : b.path;
        Path dir = file.toAbsolutePath().getParent();
        if (!Files.isRegularFile(file)) {
            throw new BadInputException(file + ": no ONNX vision model here (expected vision_model.onnx)");
        }
        this.processor = b.processor != null ? b.processor : ImageProcessor.read(dir);
        this.name = Files.isDirectory(b.path) ? b.path.toAbsolutePath().normalize().getFileName().toString()
                : dir.getFileName().toString();
        this.layerName = b.layer;
        this.env = OnnxThreads.call(OrtEnvironment::getEnvironment);
        this.session = session(file, b, env);
        try {
            Map<String, NodeInfo> inputs = session.getInputInfo();
            this.inputName = inputs.containsKey("pixel_values") ? "pixel_values" : inputs.keySet().iterator().next();
            long[] in = ((TensorInfo) inputs.get(inputName).getInfo()).getShape();
            this.inputHw = in.length == 4 && in[2] > 0 && in[3] > 0 ? new long[] {in[2], in[3]} : null;
            Map<String, NodeInfo> outputs = session.getOutputInfo();
            String out = switch (b.layer) {
                case "-1", "last" -> "last_hidden_state";
                case "-2", "penultimate" -> "penultimate_hidden_state";
                default -> b.layer;
            };
            if (!outputs.containsKey(out)) {
                close();
                throw new BadInputException(file + ": no output '" + out + "' (outputs: "
                        + String.join(", ", outputs.keySet()) + ")");
            }
            this.output = out;
            this.hasPooled = outputs.containsKey("pooler_output");
            long[] shape = ((TensorInfo) outputs.get(out).getInfo()).getShape();
            if (shape.length != 3) {
                close();
                throw new BadInputException(file + ": output '" + out + "' has rank " + shape.length
                        + ", expected [batch, tokens, dim]");
            }
            boolean clip = false;
            if (Files.isRegularFile(dir.resolve("config.json"))) {
                ModelConfig c = ModelConfig.read(dir);
                clip = c instanceof VisionTowerConfig v && v.family().equals("clip");
            }
            this.dropCls = b.dropCls && clip;
            this.tokens = (int) shape[1] - (dropCls ? 1 : 0);
            this.dim = (int) shape[2];
            this.id = "onnx:" + file.toAbsolutePath().normalize() + "#" + Files.size(file) + ":" + out
                    + (dropCls ? ":nocls" : "") + ":" + processor.fingerprint();
        } catch (OrtException | java.io.IOException e) {
            close();
            throw new GlimpseException(file + ": cannot inspect the ONNX model: " + e.getMessage(), e);
        }
    }

    /** An ONNX Runtime session for the tower: all graph optimisations, CUDA when asked for and available. */
    private static OrtSession session(Path file, Builder b, OrtEnvironment env) {
        try {
            OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
            opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            if (b.threads > 0) {
                opts.setIntraOpNumThreads(b.threads);
            }
            opts.setInterOpNumThreads(1);
            if (b.cuda) {
                try {
                    opts.addCUDA(0);
                    LOG.info("ONNX vision tower on CUDA device 0");
                } catch (OrtException | RuntimeException | UnsatisfiedLinkError e) {
                    LOG.warn("CUDA execution provider unavailable (" + e.getMessage()
                            + "); running the vision tower on the CPU");
                }
            }
            return OnnxThreads.call(() -> {
                try {
                    return env.createSession(file.toString(), opts);
                } catch (OrtException e) {
                    throw new BadInputException(file + ": ONNX Runtime cannot load the model: " + e.getMessage(), e);
                }
            });
        } catch (OrtException e) {
            throw new BadInputException(file + ": ONNX Runtime cannot load the model: " + e.getMessage(), e);
        }
    }

    public static Builder builder(Path modelDirOrFile) {
        return new Builder(modelDirOrFile);
    }

    /** Configures an ONNX tower. */
    public static final class Builder {
        private final Path path;
        private String layer = "last_hidden_state";
        private boolean dropCls = true;
        private int threads;
        private boolean cuda;
        private ImageProcessor processor;

        Builder(Path path) {
            this.path = path;
        }

        /** Output name, or −1 / −2 for last / penultimate hidden state. */
        public Builder layer(String outputOrIndex) {
            this.layer = outputOrIndex;
            return this;
        }

        /** Drop CLIP's CLS token (LLaVA's "default" selection); ignored for towers without one. */
        public Builder dropCls(boolean drop) {
            this.dropCls = drop;
            return this;
        }

        public Builder intraOpThreads(int threads) {
            this.threads = threads;
            return this;
        }

        /** Try the CUDA execution provider (needs the onnxruntime_gpu artifact: build with -Pgpu). */
        public Builder cuda(boolean cuda) {
            this.cuda = cuda;
            return this;
        }

        public Builder processor(ImageProcessor processor) {
            this.processor = processor;
            return this;
        }

        public OnnxVisionTower build() {
            return new OnnxVisionTower(this);
        }
    }

    @Override
    public String id() {
        return id;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String layer() {
        return layerName;
    }

    @Override
    public ImageProcessor processor() {
        return processor;
    }

    @Override
    public int numTokens() {
        return tokens;
    }

    @Override
    public int hiddenSize() {
        return dim;
    }

    /** The names of the model's outputs. */
    public List<String> outputs() {
        try {
            return new ArrayList<>(session.getOutputInfo().keySet());
        } catch (OrtException e) {
            throw new GlimpseException("cannot list ONNX outputs: " + e.getMessage(), e);
        }
    }

    @Override
    public Features encodePixels(float[] pixelValues, int batch) {
        return OnnxThreads.call(() -> run(pixelValues, batch));
    }

    private Features run(float[] pixelValues, int batch) {
        int per = pixelValues.length / batch;
        long[] shape;
        if (inputHw != null) {
            if (per != 3 * inputHw[0] * inputHw[1]) {
                throw new BadInputException("pixel values of " + per + " floats per image do not fit the model's input"
                        + " [3, " + inputHw[0] + ", " + inputHw[1] + "]");
            }
            shape = new long[] {batch, 3, inputHw[0], inputHw[1]};
        } else {
            int side = (int) Math.round(Math.sqrt(per / 3.0));
            shape = new long[] {batch, 3, per / 3 / side, side};
        }
        try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(pixelValues), shape);
             OrtSession.Result r = session.run(Map.of(inputName, in))) {
            OnnxTensor t = (OnnxTensor) r.get(output).orElseThrow();
            long[] s = t.getInfo().getShape();
            float[] values = new float[(int) (s[0] * s[1] * s[2])];
            t.getFloatBuffer().get(values);
            float[] pooled = null;
            if (hasPooled) {
                OnnxTensor p = (OnnxTensor) r.get("pooler_output").orElseThrow();
                pooled = new float[(int) p.getInfo().getNumElements()];
                p.getFloatBuffer().get(pooled);
            }
            Features f = new Features(values, (int) s[0], (int) s[1], (int) s[2], pooled);
            return dropCls ? f.dropFirstToken() : f;
        } catch (OrtException e) {
            throw new GlimpseException("ONNX vision tower failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            if (session != null) {
                session.close();
            }
        } catch (OrtException e) {
            LOG.debug("closing the ONNX session: " + e.getMessage());
        }
    }
}
