package io.freqfusion.backend.cpu;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;

/**
 * The one parallel-for of the CPU backend: splits [0, n) into contiguous ranges run on a fixed
 * ForkJoinPool. Kernels pick the unit of work (a row, a channel block) so that ranges are cache-friendly.
 */
public final class Parallel implements AutoCloseable {

    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    private final ForkJoinPool pool;
    private final int threads;

    public Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.pool = threads == 1 ? null : new ForkJoinPool(threads, p -> {
            var t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(p);
            t.setName("freqfusion-cpu-" + t.getPoolIndex());
            t.setDaemon(true);
            return t;
        }, null, false);
    }

    public int threads() { return threads; }

    /** Runs body over [0, n), in about 4 ranges per thread (load balance without tiny tasks). */
    public void forRange(int n, RangeBody body) {
        if (n <= 0) return;
        if (pool == null || n == 1) {
            body.run(0, n);
            return;
        }
        int grain = Math.max(1, n / (threads * 4));
        pool.invoke(new Split(body, 0, n, grain));
    }

    private static final class Split extends RecursiveAction {
        private final RangeBody body;
        private final int from, to, grain;

        Split(RangeBody body, int from, int to, int grain) {
            this.body = body;
            this.from = from;
            this.to = to;
            this.grain = grain;
        }

        @Override
        protected void compute() {
            if (to - from <= grain) {
                body.run(from, to);
                return;
            }
            int mid = (from + to) >>> 1;
            invokeAll(new Split(body, from, mid, grain), new Split(body, mid, to, grain));
        }
    }

    @Override
    public void close() {
        if (pool != null) pool.shutdown();
    }
}
