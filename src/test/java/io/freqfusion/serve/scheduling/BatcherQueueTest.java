package io.freqfusion.serve.scheduling;

import io.freqfusion.serve.InferenceException;
import io.freqfusion.serve.metrics.ServeMetrics;
import io.freqfusion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The batcher's queue without its compute thread (never started, so requests stay queued): requests that end while
 * waiting (timed out, cancelled) leave the queue at once, and a shutdown fails the queued ones and empties it.
 */
class BatcherQueueTest {

    private static Batcher queueOnly(int capacity) {
        return new Batcher("m", null, 8, TimeUnit.SECONDS.toNanos(60), capacity, new ServeMetrics());
    }

    private static InferenceJob job() {
        return new InferenceJob(Map.of("x", Tensor.zeros(new int[] {1, 1, 1, 1})), List.of("y"));
    }

    private static InferenceException failure(InferenceJob j) {
        ExecutionException e = assertThrows(ExecutionException.class, () -> j.result().get(5, TimeUnit.SECONDS));
        return assertInstanceOf(InferenceException.class, e.getCause());
    }

    @Test
    void endedRequestsLeaveTheQueueAtOnce() throws Exception {
        Batcher b = queueOnly(2);
        InferenceJob timedOut = job(), cancelled = job(), waiting = job();
        b.submit(timedOut);
        b.submit(cancelled);
        assertThrows(InferenceException.class, () -> b.submit(job()), "queue of 2 is full");
        timedOut.result().orTimeout(10, TimeUnit.MILLISECONDS);
        ExecutionException t = assertThrows(ExecutionException.class, () -> timedOut.result().get(5, TimeUnit.SECONDS));
        assertInstanceOf(TimeoutException.class, t.getCause());
        cancelled.cancel("client gone");
        assertEquals(InferenceException.Kind.CANCELLED, failure(cancelled).kind());
        assertEquals(0, b.queueDepth());
        assertEquals(0, b.inflight());
        b.submit(waiting);
        assertEquals(1, b.queueDepth());
        b.shutdown(0);
    }

    @Test
    void shutdownFailsEveryQueuedRequest() {
        Batcher b = queueOnly(8);
        InferenceJob[] jobs = {job(), job(), job()};
        for (InferenceJob j : jobs) b.submit(j);
        b.shutdown(0); // no compute thread: nothing drains, all three are failed
        for (InferenceJob j : jobs) assertEquals(InferenceException.Kind.UNAVAILABLE, failure(j).kind());
        assertEquals(0, b.queueDepth());
        assertEquals(0, b.inflight());
        assertEquals(InferenceException.Kind.UNAVAILABLE, assertThrows(InferenceException.class, () -> b.submit(job())).kind());
    }
}
