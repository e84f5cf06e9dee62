package dev.glimpse.language;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

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

    /** Appends this step's keys and values of {@code layer} and returns the full ones. */
    NDArray[] append(int layer, NDArray k, NDArray v) {
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
        return new NDArray[] {nk, nv};
    }

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

    @Override
    public void close() {
        manager.close();
    }
}
