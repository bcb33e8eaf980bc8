package io.freqfusion.backend.cpu;

import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The one parallel-for of the CPU backend: splits [0, n) into one contiguous range per thread (the calling thread and
 * {@code threads - 1} resident workers); each thread runs its own range front to back, then takes what is left of the
 * others' from their far ends. Kernels pick the unit of work (a row block, a band of rows) and order it in image
 * order, so that the same thread makes and then reads the same rows in consecutive kernels.
 *
 * <p>Why ranges per thread and not one shared counter (guided chunks, until 2026-11-30): on a VM the two vCPUs may
 * sit on different CCDs for seconds at a time (a cache line passed between them took ~165 ns instead of ~30-40, in
 * phases), and then every kernel that read rows the other core had just written ran 2-7x slower (the Winograd
 * padded copy 7x in JFR samples; W2 4.4-4.8 ms instead of 2.9-3.1, in about a third of processes, never with one
 * thread). With each thread keeping its rows, the forward took 0.77-0.80 of the shared counter's time in those phases
 * (in-process A/B at W2) and the same time otherwise (separate processes, 2.93-3.07 against 2.94-3.11 ms).
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
     * The job in progress, in fields reused by every call so that a call allocates nothing. Items [0, n) are dealt out
     * as one contiguous range per thread (the caller the first, worker i the (i + 1)-th), so that in consecutive
     * kernels whose items run in image order a thread reads the rows it wrote itself; a thread done with its own range
     * takes what is left of the others' from their far ends. Each range is one claim word in its own cache line,
     * (generation << 40) | (next << 20) | end: its owner advances next, others pull end back, both by compare-and-set,
     * so a thread still holding an earlier job's word can never claim from a later job. A job is closed (every word
     * set empty with the new generation), set up (body, size), then opened (each word its range) by volatile writes,
     * then announced (jobGeneration). The caller waits for the done count to reach the job's size.
     */
    /** Longs between two threads' claim words (and the done count): 128 bytes, two cache lines, none shared. */
    private static final int STRIDE = 16;
    private static final int ITEM_BITS = 20, GEN_BITS = 24;
    private static final long ITEM_MASK = (1L << ITEM_BITS) - 1, GEN_MASK = (1L << GEN_BITS) - 1;
    /** Items per job (a range end must fit the word's 20 bits); a larger call runs as consecutive jobs. */
    static final int MAX_ITEMS = (int) ITEM_MASK;
    private final AtomicLongArray words;
    private final int doneIndex;
    private volatile int jobGeneration;
    private RangeBody body;
    private int n, offset;
    private Thread caller;
    private volatile Throwable error;
    private int generation;

    public Parallel(int threads) {
        if (threads < 1) throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        this.threads = threads;
        this.words = new AtomicLongArray((threads + 1) * STRIDE);
        this.doneIndex = threads * STRIDE;
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int slot = i + 1;
            Thread t = new Thread(() -> workerLoop(slot), "freqfusion-cpu-" + slot);
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
            for (int from = 0; from < n; from += MAX_ITEMS) runJob(from, Math.min(MAX_ITEMS, n - from), body);
        } finally {
            lock.unlock();
        }
    }

    private void runJob(int offset, int n, RangeBody body) {
        int g = (int) ((generation + 1) & GEN_MASK);
        generation = g = g == 0 ? 1 : g;   // 0 is the generation before the first job
        // First close the previous job's words (a thread may have read one, then read the size below while it
        // changes: its compare-and-set must fail), then set the job up, then open it.
        for (int t = 0; t < threads; t++) words.set(t * STRIDE, word(g, 0, 0));
        this.body = body;
        this.n = n;
        this.offset = offset;
        this.caller = Thread.currentThread();
        this.error = null;
        words.set(doneIndex, 0);
        for (int t = 0; t < threads; t++) words.set(t * STRIDE, word(g, rangeStart(n, t), rangeStart(n, t + 1)));
        jobGeneration = g;
        for (Thread w : workers) LockSupport.unpark(w);
        work(g, 0);
        awaitDone(n);
        this.body = null;   // the body holds the call's arrays: not kept past the call
        Throwable e = error;
        if (e != null) {
            error = null;
            if (e instanceof RuntimeException re) throw re;
            if (e instanceof Error err) throw err;
            throw new IllegalStateException(e);
        }
    }

    /** Thread t's own items of a job of n: [rangeStart(n, t), rangeStart(n, t + 1)). */
    private int rangeStart(int n, int t) { return (int) ((long) n * t / threads); }

    private static long word(int g, int next, int end) {
        return ((long) g << (2 * ITEM_BITS)) | ((long) next << ITEM_BITS) | end;
    }

    private void workerLoop(int slot) {
        int last = 0;
        while (!closed) {
            int g = jobGeneration;
            if (g != last) {
                last = g;
                work(g, slot);
                continue;
            }
            long spinUntil = System.nanoTime() + SPIN_NANOS;
            while (jobGeneration == last) {
                if (closed) return;
                if (System.nanoTime() < spinUntil) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
        }
    }

    /** Job g's items on thread slot: its own range front to back, then the rest of the other ranges. */
    private void work(int g, int slot) {
        if (!drain(g, slot, true)) return;
        for (int k = 1; k < threads; k++) {
            if (!drain(g, (slot + k) % threads, false)) return;
        }
    }

    /**
     * Claims chunks of range t of job g until it is empty: its owner a quarter of what is left at a time from the
     * front (large chunks, few claims), others half of it from the back (what the owner will not reach soon). Returns
     * false once the range's word belongs to a later job.
     */
    private boolean drain(int g, int t, boolean own) {
        int i = t * STRIDE;
        while (true) {
            long c = words.get(i);
            if ((int) (c >>> (2 * ITEM_BITS)) != g) return false;
            int next = (int) ((c >>> ITEM_BITS) & ITEM_MASK), end = (int) (c & ITEM_MASK);
            if (next >= end) return true;
            // read before the claim: a successful claim of job g (open) proves these were job g's
            int n = this.n, offset = this.offset;
            RangeBody b = this.body;
            int from, to;
            long claimed;
            if (own) {
                from = next;
                to = next + Math.max(1, (end - next) / 4);
                claimed = word(g, to, end);
            } else {
                to = end;
                from = end - Math.max(1, (end - next) / 2);
                claimed = word(g, next, from);
            }
            if (!words.compareAndSet(i, c, claimed)) continue;
            Thread waiting = caller;
            try {
                b.run(offset + from, offset + to);
            } catch (Throwable e) {
                error = e;
            }
            if (words.addAndGet(doneIndex, to - from) == n) LockSupport.unpark(waiting);
        }
    }

    private void awaitDone(int n) {
        long spinUntil = System.nanoTime() + SPIN_NANOS;
        while (words.get(doneIndex) < n) {
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
