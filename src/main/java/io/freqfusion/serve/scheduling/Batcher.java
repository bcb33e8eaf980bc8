package io.freqfusion.serve.scheduling;

import io.freqfusion.backend.StageTimes;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.serve.InferenceException;
import io.freqfusion.serve.metrics.ServeMetrics;
import io.freqfusion.tensor.Tensor;
import org.jboss.logging.Logger;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A model's bounded queue and dynamic batcher (Triton's semantics): the oldest waiting request opens a batch;
 * requests with the same non-batch shapes join it, in arrival order, while their summed batch size stays within
 * {@code maxBatch}; the batch runs when it is full or when the oldest request has waited {@code maxDelay}.
 *
 * <p>Batches run one at a time on the batcher's own compute thread (never on an event loop or the HTTP worker
 * pool); the backend parallelises inside a forward. A full queue rejects at once ({@link InferenceException.Kind#QUEUE_FULL}).
 */
public final class Batcher {
    private static final Logger LOG = Logger.getLogger(Batcher.class);

    private final String model;
    private volatile FusionRunner runner;
    private volatile FailureHandler onFailure = (b, t) -> null;
    private final int maxBatch;
    private final long maxDelayNanos;
    private final int capacity;
    private final ServeMetrics metrics;

    /** Bound on the scratch bytes of the runner's cached plans (FusionRunner evicts least recently used plans). */
    private volatile long planCacheCap = Long.MAX_VALUE;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private final ArrayDeque<InferenceJob> queue = new ArrayDeque<>();
    private final AtomicInteger inflight = new AtomicInteger();
    private final Thread thread;
    private volatile boolean accepting = true;
    private volatile boolean stopped;

    public Batcher(String model, FusionRunner runner, int maxBatch, long maxDelayNanos, int capacity, ServeMetrics metrics) {
        this.model = model;
        this.runner = runner;
        this.maxBatch = Math.max(1, maxBatch);
        this.maxDelayNanos = Math.max(0, maxDelayNanos);
        this.capacity = Math.max(1, capacity);
        this.metrics = metrics;
        this.thread = Thread.ofPlatform().name("freqfusion-batcher-" + model).daemon(true).unstarted(this::loop);
    }

    /**
     * Called on the compute thread when the backend fails a forward (any failure but a client error). Returns a runner to
     * re-run the batch on (a fallback backend), or null: the batch's requests fail with 503 (UNAVAILABLE).
     */
    public interface FailureHandler {
        FusionRunner onBackendFailure(Batcher batcher, Throwable failure);
    }

    public void onFailure(FailureHandler handler) { this.onFailure = handler; }

    /** Bound on the scratch bytes of the runner's cached plans (per-shape scratch, as the backend reports it). */
    public void planCacheCap(long bytes) {
        this.planCacheCap = bytes;
        runner.maxCachedBytes(bytes);
    }

    public void start() { thread.start(); }

    public String model() { return model; }

    public FusionRunner runner() { return runner; }

    /** Swaps the runner (re-prepared after a failure, or a fallback backend); the next batch runs on it. */
    public void runner(FusionRunner r) {
        r.maxCachedBytes(planCacheCap);
        this.runner = r;
    }

    private final java.util.concurrent.ConcurrentLinkedQueue<FusionRunner> retired = new java.util.concurrent.ConcurrentLinkedQueue<>();

    /** A runner no longer used: closed on the compute thread between batches (never under a running forward). */
    public void retire(FusionRunner r) {
        if (r != null) retired.add(r);
    }

    /** Stops admitting (new requests get UNAVAILABLE); admitted ones still run. */
    public void stopAccepting() {
        accepting = false;
        lock.lock();
        try {
            changed.signalAll(); // queued requests run now instead of waiting out their batching window
        } finally {
            lock.unlock();
        }
    }

    /** Whether it still admits requests (false once shutdown began). */
    public boolean accepting() { return accepting; }

    public int maxBatch() { return maxBatch; }
    public int capacity() { return capacity; }
    public long maxDelayNanos() { return maxDelayNanos; }

    /** Requests waiting (not computing yet). */
    public int queueDepth() {
        lock.lock();
        try {
            return queue.size();
        } finally {
            lock.unlock();
        }
    }

    /** Requests admitted and not yet answered (queued + computing). */
    public int inflight() { return inflight.get(); }

    /** Admits a job or throws QUEUE_FULL / UNAVAILABLE at once; never blocks. */
    public void submit(InferenceJob job) {
        lock.lock();
        try {
            if (!accepting) throw new InferenceException(InferenceException.Kind.UNAVAILABLE, "model '" + model + "' is shutting down");
            if (queue.size() >= capacity) {
                throw new InferenceException(InferenceException.Kind.QUEUE_FULL,
                        "model '" + model + "': queue full (" + capacity + " requests waiting), retry later");
            }
            queue.addLast(job);
            inflight.incrementAndGet();
            job.result().whenComplete((r, t) -> {
                inflight.decrementAndGet();
                if (t != null) dropIfQueued(job); // timed out or cancelled while waiting: its place and memory go now
            });
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Stops accepting, lets queued requests finish for up to {@code drainMillis}, then fails the rest and stops. */
    public void shutdown(long drainMillis) {
        if (stopped) return;
        accepting = false;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(drainMillis);
        while (inflight.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        stopped = true;
        lock.lock();
        try {
            // failing a job removes it from the queue (dropIfQueued): fail a copy
            List<InferenceJob> unrun = new ArrayList<>(queue);
            queue.clear();
            for (InferenceJob j : unrun) {
                j.result().completeExceptionally(new InferenceException(InferenceException.Kind.UNAVAILABLE, "server shutting down"));
                j.left();
            }
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        thread.interrupt();
    }

    private void loop() {
        while (!stopped) {
            List<InferenceJob> batch;
            try {
                batch = nextBatch();
            } catch (InterruptedException e) {
                if (stopped) return;
                continue;
            }
            for (FusionRunner r; (r = retired.poll()) != null; ) {
                if (r != runner) r.close();
            }
            if (batch.isEmpty()) continue;
            try {
                execute(batch);
            } catch (Throwable t) { // never let the compute thread die
                LOG.errorf(t, "model '%s': batch of %d requests %s failed", model, batch.size(), ids(batch));
                InferenceException ie = InferenceException.of(t);
                for (InferenceJob j : batch) j.result().completeExceptionally(ie);
            } finally {
                for (InferenceJob j : batch) j.left();
            }
        }
    }

    private void dropIfQueued(InferenceJob job) {
        lock.lock();
        try {
            if (queue.remove(job)) job.left();
        } finally {
            lock.unlock();
        }
    }

    /** Waits for the oldest request, then for its batch to fill or its delay to pass; removes and returns the batch. */
    private List<InferenceJob> nextBatch() throws InterruptedException {
        lock.lock();
        try {
            while (true) {
                while (!queue.isEmpty() && queue.peekFirst().isDone()) queue.pollFirst().left();
                if (queue.isEmpty()) {
                    changed.await();
                    continue;
                }
                InferenceJob head = queue.peekFirst();
                List<InferenceJob> batch = new ArrayList<>();
                int size = 0;
                for (InferenceJob j : queue) {
                    if (j.isDone() || !j.shapeKey().equals(head.shapeKey())) continue;
                    if (size + j.batch() > maxBatch) {
                        if (size == 0) { // a single request larger than the batch limit runs alone
                            batch.add(j);
                            size = j.batch();
                        }
                        break;
                    }
                    batch.add(j);
                    size += j.batch();
                }
                long waited = System.nanoTime() - head.enqueuedNanos();
                if (size >= maxBatch || waited >= maxDelayNanos || stopped || !accepting) {
                    for (InferenceJob j : batch) queue.remove(j);
                    return batch;
                }
                changed.awaitNanos(maxDelayNanos - waited);
            }
        } finally {
            lock.unlock();
        }
    }

    private void execute(List<InferenceJob> jobs) {
        long start = System.nanoTime();
        for (InferenceJob j : jobs) metrics.queueWait(model, start - j.enqueuedNanos());
        List<InferenceJob> live = new ArrayList<>(jobs.size());
        for (InferenceJob j : jobs) if (!j.isDone()) live.add(j);
        if (live.isEmpty()) return;
        Map<String, Tensor> inputs = live.size() == 1 ? live.get(0).inputs() : concat(live);
        int total = 0;
        for (InferenceJob j : live) total += j.batch();
        // only what some request of the batch asked for is made (an fpn-add chain asked for its levels writes no stage
        // outputs)
        java.util.Set<String> wanted = new java.util.HashSet<>();
        for (InferenceJob j : live) wanted.addAll(j.outputs());
        StageTimes times = new StageTimes();
        Map<String, Tensor> out;
        try {
            out = runner.run(inputs, wanted, times);
        } catch (IllegalArgumentException e) { // a client error the validation did not catch: 400
            for (InferenceJob j : live) j.result().completeExceptionally(InferenceException.of(e));
            return;
        } catch (RuntimeException | OutOfMemoryError | StackOverflowError | InternalError e) {
            LOG.errorf(e, "model '%s': backend failure in a forward of batch %d (requests %s)", model, total, ids(live));
            FusionRunner fallback = null;
            try {
                fallback = onFailure.onBackendFailure(this, e);
            } catch (RuntimeException h) {
                LOG.errorf(h, "model '%s': failure handler failed", model);
            }
            out = null;
            if (fallback != null) {
                try {
                    runner = fallback;
                    times = new StageTimes();
                    out = fallback.run(inputs, wanted, times);
                    LOG.warnf("model '%s': batch %d re-run on the fallback backend %s", model, total, fallback.backend().name());
                } catch (RuntimeException e2) {
                    LOG.errorf(e2, "model '%s': the fallback backend failed too", model);
                }
            }
            if (out == null) {
                InferenceException ie = new InferenceException(InferenceException.Kind.UNAVAILABLE, "model '" + model
                        + "': backend failure (" + e.getClass().getSimpleName() + "); the model is being recovered, retry later", e);
                for (InferenceJob j : live) j.result().completeExceptionally(ie);
                return;
            }
        }
        metrics.batchSize(model, total);
        metrics.stages(model, times);
        metrics.backendKernelTimes(runner.backend());
        if (live.size() == 1) {
            InferenceJob j = live.get(0);
            j.result().complete(select(out, j.outputs()));
            return;
        }
        int offset = 0;
        for (InferenceJob j : live) {
            Map<String, Tensor> mine = new LinkedHashMap<>();
            for (String name : j.outputs()) mine.put(name, slice(out.get(name), offset, j.batch()));
            offset += j.batch();
            j.result().complete(mine);
        }
    }

    private static String ids(List<InferenceJob> jobs) {
        StringBuilder sb = new StringBuilder("[");
        for (InferenceJob j : jobs) sb.append(sb.length() > 1 ? "," : "").append(j.requestId());
        return sb.append(']').toString();
    }

    private static Map<String, Tensor> select(Map<String, Tensor> out, List<String> names) {
        Map<String, Tensor> m = new LinkedHashMap<>();
        for (String n : names) m.put(n, out.get(n));
        return m;
    }

    /** Concatenates the jobs' inputs along dim 0 (same non-batch shapes by construction). */
    static Map<String, Tensor> concat(List<InferenceJob> jobs) {
        Map<String, Tensor> first = jobs.get(0).inputs();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String name : first.keySet()) {
            int[] shape = first.get(name).shape();
            int per = first.get(name).size() / shape[0];
            int total = 0;
            for (InferenceJob j : jobs) total += j.batch();
            float[] data = new float[Math.multiplyExact(total, per)];
            int off = 0;
            for (InferenceJob j : jobs) {
                float[] src = j.inputs().get(name).data();
                System.arraycopy(src, 0, data, off, src.length);
                off += src.length;
            }
            shape[0] = total;
            out.put(name, new Tensor(shape, data));
        }
        return out;
    }

    /** Items [from, from + count) of dim 0. */
    static Tensor slice(Tensor t, int from, int count) {
        int[] shape = t.shape();
        int per = t.size() / shape[0];
        float[] data = new float[count * per];
        System.arraycopy(t.data(), from * per, data, 0, data.length);
        shape[0] = count;
        return new Tensor(shape, data);
    }

    /** For logs and tests. */
    @Override
    public String toString() {
        return "Batcher[" + model + ", maxBatch=" + maxBatch + ", delay=" + maxDelayNanos / 1000 + "us, capacity=" + capacity + "]";
    }

}
