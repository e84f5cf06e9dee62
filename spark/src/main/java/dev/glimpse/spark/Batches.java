package dev.glimpse.spark;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.function.Function;

/** An iterator over a partition that maps it a batch at a time (Spark reads lazily; so does this). */
final class Batches<T, R> implements Iterator<R> {
    private final Iterator<T> in;
    private final int size;
    private final Function<List<T>, List<R>> map;
    private Iterator<R> current = Collections.emptyIterator();

    Batches(Iterator<T> in, int size, Function<List<T>, List<R>> map) {
        this.in = in;
        this.size = size;
        this.map = map;
    }

    @Override
    public boolean hasNext() {
        while (!current.hasNext() && in.hasNext()) {
            List<T> batch = new ArrayList<>(size);
            while (batch.size() < size && in.hasNext()) {
                batch.add(in.next());
            }
            current = map.apply(batch).iterator();
        }
        return current.hasNext();
    }

    @Override
    public R next() {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        return current.next();
    }
}
