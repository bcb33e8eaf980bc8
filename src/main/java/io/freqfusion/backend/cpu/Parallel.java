package io.freqfusion.backend.cpu;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one parallel-for of the CPU backend: splits [0, n) into contiguous chunks that the calling thread and
 * {@code threads - 1} resident workers claim from a shared counter, large ones first. Kernels pick the unit of work (a row, a
 * channel block) so that chunks are cache-friendly.
 *
 * <p>Why not a ForkJoinPool: a forward is ~20 short kernels in a row, and a pool whose workers park between
 * them wakes up late (measured: a 4 ms convolution sometimes ran on one worker only). Here the caller works
 * too, and idle workers spin briefly before parking, so the next kernel starts on all cores at once.
 * Calls from different threads are serialised (the kernels use every core anyway); bodies must not call
 * {@link #forRange} themselves.
 */
public final class Parallel implements AutoCloseable {

    @FunctionalInterface
    public interface RangeBody {
        void run(int from, int to);
    }

    /**
     * A kernel's body with the call's arguments in fields instead of captured by a lambda (a capturing lambda is a
     * new object per call). A calling thread keeps one instance per kernel and reuses it, so the steady state
     * allocates nothing; {@link #run(int, Task)} clears its fields afterwards, so that a thread's instance does not
     * keep a request's tensors reachable.
     */
    public abstract static class Task implements RangeBody {
        /** Drops the references to the call's arrays. */
        abstract void clear();
    }

    /** {@link #forRange} with a reusable task, whose fields are cleared when it returns (or throws). */
    public void run(int n, Task task) {
        try {
            forRange(n, task);
        } finally {
            task.clear();
        }
    }

    /** How long an idle worker spins for the next kernel before parking. */
    private static final long SPIN_NANOS = 200_000;

    private final int threads;
    private final Thread[] workers;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile boolean closed;

    /*
     * The job in progress, in fields reused by every call so that a call allocates nothing. Threads claim items by
     * compare-and-set on the claim word, (generation << 32) | next item, so a thread still holding an earlier job's
     * word can never claim from a later job. A job is closed to such threads (its generation with NOT_OPEN), set up
     * (body, size), then opened (next item 0) by volatile writes. The caller waits for done == n before the next job.
     */
    private final AtomicLong claim = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private RangeBody body;
    private int n;
    private Thread caller;
    private volatile Throwable error;
    private int generation;
    /** The claim word's item index while a job is being set up: negative, so no thread claims from it. */
    private static final long NOT_OPEN = 0xFFFF_FFFFL;

    public Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            Thread t = new Thread(this::workerLoop, "freqfusion-cpu-" + (i + 1));
            t.setDaemon(true);
            workers[i] = t;
            t.start();
        }
    }

    public int threads() { return threads; }

    /** Runs body over [0, n) in chunks on all threads; returns when every chunk is done. */
    public void forRange(int n, RangeBody body) {
        if (n <= 0) return;
        if (threads == 1 || n == 1) {
            body.run(0, n);
            return;
        }
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("CPU backend closed");
            int g = generation = generation + 1 == 0 ? 1 : generation + 1;
            // First close the previous job's claims (a thread may have read its claim word, then read the size below
            // while it changes: its compare-and-set must fail), then set the job up, then open it.
            claim.set(((long) g << 32) | NOT_OPEN);
            this.body = body;
            this.n = n;
            this.caller = Thread.currentThread();
            this.error = null;
            done.set(0);
            claim.set((long) g << 32);
            for (Thread w : workers) LockSupport.unpark(w);
            work(g);
            awaitDone(n);
            this.body = null;   // the body holds the call's arrays: not kept past the call
            Throwable e = error;
            if (e != null) {
                error = null;
                if (e instanceof RuntimeException re) throw re;
                if (e instanceof Error err) throw err;
                throw new IllegalStateException(e);
            }
        } finally {
            lock.unlock();
        }
    }

    private void workerLoop() {
        int last = 0;
        while (!closed) {
            int g = (int) (claim.get() >>> 32);
            if (g != last) {
                last = g;
                work(g);
                continue;
            }
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while ((int) (claim.get() >>> 32) == last) {
                if (closed) return;
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
        }
    }

    /**
     * Claims chunks of job g of decreasing size (guided scheduling: a 1/(2 threads) share of what is left, at least one
     * item) until none is left: large first chunks keep a thread on neighbouring items, the small last ones let the
     * threads finish together. Fixed chunks of 1/(4 threads) left a thread idle for half a chunk at the end of each
     * kernel on average (whole forward 0.957 and 0.958 at W2, 0.987 at W3 in in-process A/Bs).
     */
    private void work(int g) {
        while (true) {
            long c = claim.get();
            if ((int) (c >>> 32) != g) return;
            int from = (int) c;
            if (from < 0) {                 // job g is being set up
                Thread.onSpinWait();
                continue;
            }
            // read before the claim: a successful claim of job g (open) proves these were job g's
            int n = this.n;
            RangeBody b = this.body;
            if (from >= n) return;
            int to = Math.min(n, from + Math.max(1, (n - from) / (2 * threads)));
            if (!claim.compareAndSet(c, ((long) g << 32) | to)) continue;
            Thread waiting = caller;
            try {
                b.run(from, to);
            } catch (Throwable t) {
                error = t;
            }
            if (done.addAndGet(to - from) == n) LockSupport.unpark(waiting);
        }
    }

    private void awaitDone(int n) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (done.get() < n) {
            if (System.nanoTime() < spinUntil) Thread.onSpinWait();
            else LockSupport.parkNanos(this, 50_000);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) LockSupport.unpark(w);
    }
}
