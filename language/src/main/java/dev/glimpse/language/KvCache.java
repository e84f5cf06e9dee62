package dev.glimpse.language;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

/**
 * Keys and values of every layer for the tokens seen so far, [batch, kv_heads, seen, head_dim] each. The cache
 * owns its arrays through its own manager; close it when the sequence is done.
 */
public final class KvCache implements AutoCloseable {
    private final NDManager manager;
    private final NDArray[] keys;
    private final NDArray[] values;

    KvCache(NDManager parent, int layers) {
        this.manager = parent.newSubManager();
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
    }

    /** Number of positions already cached (0 before the first forward). */
    public long length() {
        return keys[0] == null ? 0 : keys[0].getShape().get(2);
    }

    NDArray keys(int layer) {
        return keys[layer];
    }

    NDArray values(int layer) {
        return values[layer];
    }

    /**
     * Appends this step's keys and values of {@code layer} and returns the full ones, as views owned by the step's
     * manager (that of {@code k}): whatever the attention derives from them is freed with the step, not kept until
     * the cache closes (a cache that serves continuous batching may live for hours).
     */
    NDArray[] append(int layer, NDArray k, NDArray v) {
        NDManager step = k.getManager();
        NDArray nk = keys[layer] == null ? k : keys[layer].concat(k, 2);
        NDArray nv = values[layer] == null ? v : values[layer].concat(v, 2);
        nk.attach(manager);
        nv.attach(manager);
        if (keys[layer] != null && keys[layer] != nk) {
            keys[layer].close();
            values[layer].close();
        }
        keys[layer] = nk;
        values[layer] = nv;
        NDArray kView = nk.get(ALL);
        NDArray vView = nv.get(ALL);
        kView.attach(step);
        vView.attach(step);
        return new NDArray[] {kView, vView};
    }

    private static final NDIndex ALL = new NDIndex(":");

    /** Keeps only the given batch rows (for beams or finished rows), in the given order. */
    void select(NDArray rows) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != null) {
                NDArray k = keys[i].get(rows);
                NDArray v = values[i].get(rows);
                k.attach(manager);
                v.attach(manager);
                keys[i].close();
                values[i].close();
                keys[i] = k;
                values[i] = v;
            }
        }
    }

    /** Puts {@code n} zero positions before every row (masked padding, so a shorter batch can join a longer). */
    void padLeft(long n) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != null) {
                keys[i] = replace(keys[i], pad(keys[i], n));
                values[i] = replace(values[i], pad(values[i], n));
            }
        }
    }

    /** Drops the first {@code n} positions of every row (padding that no row attends to any more). */
    void trimLeft(long n) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != null) {
                keys[i] = replace(keys[i], keys[i].get(new NDIndex(":, :, {}:, :", n)));
                values[i] = replace(values[i], values[i].get(new NDIndex(":, :, {}:, :", n)));
            }
        }
    }

    /** Appends the rows of {@code other} (of the same length) after this cache's rows. */
    void concat(KvCache other) {
        for (int i = 0; i < keys.length; i++) {
            if (keys[i] != null) {
                keys[i] = replace(keys[i], keys[i].concat(other.keys[i], 0));
                values[i] = replace(values[i], values[i].concat(other.values[i], 0));
            }
        }
    }

    private NDArray pad(NDArray x, long n) {
        Shape s = x.getShape();
        try (NDManager t = manager.newSubManager()) {
            NDArray p = t.zeros(new Shape(s.get(0), s.get(1), n, s.get(3)), x.getDataType()).concat(x, 2);
            p.attach(manager);
            return p;
        }
    }

    private NDArray replace(NDArray old, NDArray fresh) {
        fresh.attach(manager);
        old.close();
        return fresh;
    }

    @Override
    public void close() {
        manager.close();
    }
}
