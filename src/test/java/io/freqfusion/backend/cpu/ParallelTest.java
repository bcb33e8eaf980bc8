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
}
