package dev.glimpse.fusion;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.glimpse.core.BadInputException;
import dev.glimpse.core.Checkpoint;
import dev.glimpse.core.Parameters;
import dev.glimpse.core.SafetensorsWriter;
import java.nio.file.Path;
import java.util.Map;
import java.util.Random;

/**
 * The trainable bridge from vision features to LLM embeddings: {@code linear} (LLaVA v1) or {@code mlp2x_gelu}
 * (linear_1 → GELU → linear_2, LLaVA-1.5), optionally scaled by {@code tanh(gate)} with the gate starting at 0
 * (LLaMA-Adapter's zero-init: training starts from an LLM the image cannot yet disturb). Parameters live in Java
 * arrays, named as LLaVA names them ({@code multi_modal_projector.linear_1.weight}, …). Optionally a learned
 * position embedding per image token ({@code position_embedding} [tokens, outDim], zero at the start) is added to
 * the projected tokens: a per-token MLP cannot tell where a token sits, and a small LLM reads that poorly from the
 * token order alone (where things are, how many there are).
 *
 * <p>Concurrent forward passes are safe; training updates the weights in place, so do not share a projector that is being trained.
 */
public final class Projector {
    public static final String PREFIX = "multi_modal_projector.";
    static final String POSITIONS = "position_embedding";

    private final ProjectorType type;
    private final int inDim;
    private final int outDim;
    private final boolean gated;
    private final Parameters params;

    private Projector(ProjectorType type, int inDim, int outDim, boolean gated, Parameters params) {
        this.type = type;
        this.inDim = inDim;
        this.outDim = outDim;
        this.gated = gated;
        this.params = params;
    }

    /** Fresh weights with PyTorch's nn.Linear initialisation (uniform ±1/√fan_in), seeded. */
    public static Projector initialize(ProjectorType type, int inDim, int outDim, boolean gated, long seed) {
        Random r = new Random(seed);
        Parameters p = new Parameters();
        linear(p, "linear_1", inDim, outDim, r);
        if (type == ProjectorType.MLP2X_GELU) {
            linear(p, "linear_2", outDim, outDim, r);
        }
        if (gated) {
            p.put("gate", new long[] {1}, new float[] {0f});
        }
        return new Projector(type, inDim, outDim, gated, p);
    }

    private static void linear(Parameters p, String name, int in, int out, Random r) {
        double bound = 1 / Math.sqrt(in);
        float[] w = new float[in * out];
        float[] b = new float[out];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
        }
        for (int i = 0; i < b.length; i++) {
            b[i] = (float) ((r.nextDouble() * 2 - 1) * bound);
        }
        p.put(name + ".weight", new long[] {out, in}, w);
        p.put(name + ".bias", new long[] {out}, b);
    }

    /**
     * This projector plus a zero-initialised position embedding for {@code tokens} image tokens: the model starts
     * exactly as without it. Parameters are copied.
     */
    public Projector withPositionEmbedding(int tokens) {
        if (tokens < 1) {
            throw new BadInputException("position embedding needs >= 1 image token, got " + tokens);
        }
        Projector c = copy();
        c.params.put(POSITIONS, new long[] {tokens, outDim}, new float[tokens * outDim]);
        return c;
    }

    /** Image tokens of the position embedding, or 0 without one. */
    public int positions() {
        return params.contains(POSITIONS) ? (int) params.shape(POSITIONS)[0] : 0;
    }

    /**
     * Reads {@code multi_modal_projector.*} tensors (from an adapter file or a whole LLaVA checkpoint), or the original
     * LLaVA repository's {@code mm_projector.0|2.*} (the same layers under their nn.Sequential indices).
     */
    public static Projector fromCheckpoint(Checkpoint ckpt, String prefix) {
        boolean indexed = !ckpt.contains(prefix + "linear_1.weight") && ckpt.contains(prefix + "0.weight");
        String first = prefix + (indexed ? "0." : "linear_1.");
        String second = prefix + (indexed ? "2." : "linear_2.");
        String l1 = first + "weight";
        if (!ckpt.contains(l1)) {
            throw new BadInputException(ckpt.location() + ": missing tensor '" + prefix + "linear_1.weight'");
        }
        long[] s1 = ckpt.info(l1).shape();
        boolean mlp = ckpt.contains(second + "weight");
        boolean gated = ckpt.contains(prefix + "gate");
        Parameters p = new Parameters();
        for (String w : new String[] {"weight", "bias"}) {
            p.put("linear_1." + w, ckpt.info(first + w).shape(), ckpt.toFloats(first + w));
        }
        if (mlp) {
            for (String w : new String[] {"weight", "bias"}) {
                p.put("linear_2." + w, ckpt.info(second + w).shape(), ckpt.toFloats(second + w));
            }
        }
        int out = (int) (mlp ? ckpt.info(second + "weight").shape()[0] : s1[0]);
        if (mlp && ckpt.info(second + "weight").shape()[1] != s1[0]) {
            throw new BadInputException(ckpt.location() + ": linear_2 takes " + ckpt.info(second + "weight")
                    .shape()[1] + " inputs but linear_1 gives " + s1[0]);
        }
        if (gated) {
            p.put("gate", new long[] {1}, ckpt.toFloats(prefix + "gate"));
        }
        if (ckpt.contains(prefix + POSITIONS)) {
            long[] ps = ckpt.info(prefix + POSITIONS).shape();
            if (ps.length != 2 || ps[1] != out) {
                throw new BadInputException(ckpt.location() + ": " + prefix + POSITIONS + " has shape "
                        + java.util.Arrays.toString(ps) + ", expected [tokens, " + out + "]");
            }
            p.put(POSITIONS, ps, ckpt.toFloats(prefix + POSITIONS));
        }
        return new Projector(mlp ? ProjectorType.MLP2X_GELU : ProjectorType.LINEAR, (int) s1[1], out, gated, p);
    }

    public ProjectorType type() {
        return type;
    }

    public int inputDim() {
        return inDim;
    }

    public int outputDim() {
        return outDim;
    }

    public boolean gated() {
        return gated;
    }

    /** Parameter name (without prefix) → values and shapes; the arrays are live: trainers update them in place. */
    public Parameters parameters() {
        return params;
    }

    public long parameterCount() {
        return params.count();
    }

    /** A deep copy. */
    public Projector copy() {
        return new Projector(type, inDim, outDim, gated, params.copy());
    }

    /** The parameters as fp32 arrays in {@code m}; with {@code requiresGradient} they collect gradients. */
    public Map<String, NDArray> toNDArrays(NDManager m, boolean requiresGradient) {
        return params.toNDArrays(m, DataType.FLOAT32, requiresGradient);
    }

    /**
     * The parameters as arrays of {@code type} in {@code m}; with {@code requiresGradient} they are autograd leaves
     * (mixed precision: working copies of the fp32 master values in {@link #parameters()}).
     */
    public Map<String, NDArray> toNDArrays(NDManager m, DataType type, boolean requiresGradient) {
        return params.toNDArrays(m, type, requiresGradient);
    }

    /** Projects features [..., inDim] to [..., outDim] with the given parameter arrays. */
    public NDArray forward(NDArray x, Map<String, NDArray> p) {
        NDArray h = linear(x, p.get("linear_1.weight"), p.get("linear_1.bias"));
        if (type == ProjectorType.MLP2X_GELU) {
            h = gelu(h);
            h = linear(h, p.get("linear_2.weight"), p.get("linear_2.bias"));
        }
        NDArray pos = p.get(POSITIONS);
        if (pos != null) {
            // rows are image-major: [images x tokens, outDim]
            h = h.reshape(-1, pos.getShape().get(0), outDim).add(pos).reshape(-1, outDim);
        }
        if (gated) {
            h = h.mul(p.get("gate").tanh());
        }
        return h;
    }

    /** GELU with the exact erf: libtorch's own kernel, as torch.nn.GELU() runs it. */
    static NDArray gelu(NDArray x) {
        return x.getNDArrayInternal().gelu();
    }

    static NDArray linear(NDArray x, NDArray w, NDArray b) {
        return x.getNDArrayInternal().linear(x, w, b).singletonOrThrow();
    }

    /** Writes {@code adapter.safetensors} (LLaVA names) into {@code dir}, atomically. */
    public void save(Path file) {
        SafetensorsWriter w = new SafetensorsWriter().withChecksum().metadata("format", "pt")
                .metadata("projector_type", type.label());
        params.writeTo(w, PREFIX);
        w.write(file);
    }
}
