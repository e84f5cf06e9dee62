package dev.glimpse.spark;

import dev.glimpse.fusion.VisionLanguageModel;
import dev.glimpse.vision.VisionTower;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * One model per executor JVM and spec: the first task that needs it loads it, every later task on that executor (and
 * every task thread at once — {@link VisionLanguageModel} and the towers are thread-safe) shares it. Models live as
 * long as the executor; loading happens inside a task, so a model that cannot load fails that task with its one-line
 * error, as Spark reports task failures.
 */
public final class ExecutorModels {
    private static final Map<Object, Loaded<?>> MODELS = new ConcurrentHashMap<>();

    /** A loaded model and how long this JVM took to load it. */
    public record Loaded<T>(T model, double loadSeconds) {}

    private ExecutorModels() {}

    /** The vision-language model for {@code spec} on this JVM, loaded once. */
    public static Loaded<VisionLanguageModel> get(ModelSpec spec) {
        return cached(spec, spec::load);
    }

    /** The vision tower for {@code spec} on this JVM, loaded once. */
    public static Loaded<VisionTower> tower(TowerSpec spec) {
        return cached(spec, spec::load);
    }

    @SuppressWarnings("unchecked")
    private static <T> Loaded<T> cached(Object key, Supplier<T> load) {
        return (Loaded<T>) MODELS.computeIfAbsent(key, k -> {
            long t0 = System.nanoTime();
            T m = load.get();
            return new Loaded<>(m, (System.nanoTime() - t0) / 1e9);
        });
    }

    /** Closes and forgets every model this JVM holds (tests, or a driver reusing its JVM for another job). */
    public static void clear() {
        for (Loaded<?> l : MODELS.values()) {
            try {
                ((AutoCloseable) l.model()).close();
            } catch (Exception e) {
                throw new IllegalStateException("closing " + l.model() + ": " + e.getMessage(), e);
            }
        }
        MODELS.clear();
    }
}
