package dev.glimpse.core;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Named float32 parameters with their shapes, in insertion order: what an adapter trains (a projector, LoRA,
 * adaption prompts). The values live in Java arrays so optimizers update them in place and checkpoints write them
 * directly; {@link #toNDArrays} makes the arrays one forward pass reads.
 *
 * <p>Not thread-safe while being trained; reading concurrently is safe once training is done.
 */
public final class Parameters {
    private final Map<String, float[]> values = new LinkedHashMap<>();
    private final Map<String, long[]> shapes = new LinkedHashMap<>();

    /** Adds (or replaces) a parameter; the value's length must match the shape. */
    public Parameters put(String name, long[] shape, float[] value) {
        long n = 1;
        for (long d : shape) {
            n *= d;
        }
        if (n != value.length) {
            throw new IllegalArgumentException(name + ": " + value.length + " values for shape "
                    + Arrays.toString(shape));
        }
        values.put(name, value);
        shapes.put(name, shape.clone());
        return this;
    }

    /** Name → values, in order; the arrays are live (trainers update them in place), the map is read-only. */
    public Map<String, float[]> values() {
        return Collections.unmodifiableMap(values);
    }

    public boolean contains(String name) {
        return values.containsKey(name);
    }

    public long[] shape(String name) {
        long[] s = shapes.get(name);
        if (s == null) {
            throw new IllegalArgumentException("no parameter '" + name + "'");
        }
        return s.clone();
    }

    /** The number of scalars. */
    public long count() {
        return values.values().stream().mapToLong(a -> a.length).sum();
    }

    /** A deep copy. */
    public Parameters copy() {
        Parameters c = new Parameters();
        values.forEach((k, v) -> c.put(k, shapes.get(k), v.clone()));
        return c;
    }

    /**
     * The parameters as arrays in {@code m} of {@code type}. With {@code requiresGradient} each array is an autograd
     * leaf of that type (mixed precision: a working copy of the fp32 values here, which stay the master weights).
     */
    public Map<String, NDArray> toNDArrays(NDManager m, DataType type, boolean requiresGradient) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        values.forEach((k, v) -> {
            NDArray a = m.create(v, new Shape(shapes.get(k)));
            if (type != DataType.FLOAT32) {
                a = a.toType(type, false); // cast on the device, before the array becomes a leaf
            }
            if (requiresGradient) {
                a.setRequiresGradient(true);
            }
            out.put(k, a);
        });
        return out;
    }

    /** Adds every parameter to {@code w} as F32 under {@code prefix} + name. */
    public void writeTo(SafetensorsWriter w, String prefix) {
        values.forEach((k, v) -> w.add(prefix + k, DType.F32, shapes.get(k), v));
    }
}
