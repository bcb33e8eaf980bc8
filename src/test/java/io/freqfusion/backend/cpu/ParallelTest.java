package io.freqfusion.backend.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.*;

class ParallelTest {

    /** Counts how often each item ran, so that a lost or doubled chunk shows. */
    private static final class Count extends Parallel.Task {
        AtomicIntegerArray hits;

        @Override
        public void run(int from, int to) {
            for (int i = from; i < to; i++) hits.incrementAndGet(i);
        }

        @Override
        void clear() { hits = null; }
    }

    @Test
    void everyItemRunsExactlyOnceAcrossManyReusedJobs() {
        try (Parallel par = new Parallel(3)) {
            Count task = new Count();
            // many short jobs back to back: a worker still finishing one job must never claim the next one's items
            // with the old body, and each job's items must all run once
            for (int job = 0; job < 50_000; job++) {
                int n = 1 + job % 97;
                AtomicIntegerArray hits = new AtomicIntegerArray(n);
                task.hits = hits;
                par.run(n, task);
                assertNull(task.hits, "run clears the task's fields");
                for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "job " + job + " item " + i);
            }
        }
    }

    @Test
    void aCallOfMoreItemsThanOneJobHoldsRunsEveryItemOnce() {
        try (Parallel par = new Parallel(2)) {
            int n = 2 * Parallel.MAX_ITEMS + 37;
            AtomicIntegerArray hits = new AtomicIntegerArray(n);
            par.forRange(n, (from, to) -> {
                for (int i = from; i < to; i++) hits.incrementAndGet(i);
            });
            for (int i = 0; i < n; i++) assertEquals(1, hits.get(i), "item " + i);
        }
    }

    @Test
    void eachThreadStartsOnItsOwnRangeSoThatConsecutiveKernelsKeepTheirRowsOnOneCore() {
        try (Parallel par = new Parallel(2)) {
            int n = 64;
            // every item takes a while, so that neither thread can run through the other's range before it starts
            String[] ranBy = new String[n];
            par.forRange(n, (from, to) -> {
                for (int i = from; i < to; i++) {
                    ranBy[i] = Thread.currentThread().getName();
                    long until = System.nanoTime() + 200_000;
                    while (System.nanoTime() < until) Thread.onSpinWait();
                }
            });
            String caller = Thread.currentThread().getName();
            assertEquals(caller, ranBy[0], "the caller owns the first half");
            assertTrue(ranBy[n / 2].startsWith("freqfusion-cpu-"), "the worker owns the second half: " + ranBy[n / 2]);
            long callerInFirstHalf = java.util.stream.IntStream.range(0, n / 2).filter(i -> caller.equals(ranBy[i])).count();
            assertTrue(callerInFirstHalf >= n / 4, "the caller ran most of its own half: " + callerInFirstHalf);
        }
    }

    @Test
    void aFailingChunkIsRethrownToTheCallerAndThePoolKeepsWorking() {
        try (Parallel par = new Parallel(2)) {
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> par.forRange(64, (from, to) -> {
                if (from <= 40 && 40 < to) throw new IllegalStateException("item 40");
            }));
            assertEquals("item 40", e.getMessage());
            AtomicIntegerArray hits = new AtomicIntegerArray(64);
            par.forRange(64, (from, to) -> {
                for (int i = from; i < to; i++) hits.incrementAndGet(i);
            });
            for (int i = 0; i < 64; i++) assertEquals(1, hits.get(i));
        }
    }

    @Test
    void aClosedPoolRefusesWork() {
        Parallel par = new Parallel(2);
        par.close();
        assertThrows(IllegalStateException.class, () -> par.forRange(8, (from, to) -> {}));
    }

    @Test
    void aReusedTaskAllocatesNothingPerCall() {
        try (Parallel par = new Parallel(2)) {
            Count task = new Count();
            AtomicIntegerArray hits = new AtomicIntegerArray(64);
            var mx = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            // the caller and pool workers (this pool's, and maybe an earlier test's still exiting), nothing else
            long[] ids = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t == Thread.currentThread() || t.getName().startsWith("freqfusion-cpu-"))
                    .mapToLong(Thread::threadId).toArray();
            long probe = allocated(mx.getThreadAllocatedBytes(ids), mx.getThreadAllocatedBytes(ids));
            long[] before = mx.getThreadAllocatedBytes(ids);
            for (int i = 0; i < 10_000; i++) {
                task.hits = hits;
                par.run(64, task);
            }
            long allocated = allocated(before, mx.getThreadAllocatedBytes(ids)) - probe;
            for (int i = 0; i < 64; i++) assertEquals(10_000, hits.get(i));
            // a job object per call would be ~800 KB here
            assertTrue(allocated < 10_000, "a call allocates nothing: " + allocated + " bytes over 10 000 calls");
        }
    }

    /** Bytes the threads allocated between the two readings (a thread that ended in between counts nothing). */
    private static long allocated(long[] before, long[] after) {
        long sum = 0;
        for (int i = 0; i < before.length; i++) if (before[i] >= 0 && after[i] >= 0) sum += after[i] - before[i];
        return sum;
    }
}
