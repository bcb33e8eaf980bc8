package io.freqfusion.serve.metrics;

import io.freqfusion.serve.InferenceException;

import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

/** Measures one inference request for the request metrics (latency, count, bytes) by model, protocol and outcome. */
public final class RequestRecorder {
    private final ServeMetrics metrics;
    private final String protocol;
    private final long start = System.nanoTime();
    private final long bytesIn;
    private volatile String model;
    private final AtomicBoolean recorded = new AtomicBoolean();

    public RequestRecorder(ServeMetrics metrics, String protocol, String model, long bytesIn) {
        this.metrics = metrics;
        this.protocol = protocol;
        this.model = model;
        this.bytesIn = bytesIn;
    }

    public void ok(long bytesOut) { record("ok", bytesOut); }

    public void failed(InferenceException e, long bytesOut) { record(e.kind().outcome, bytesOut); }

    /**
     * Counts the request as cancelled when its transport cancels {@code stage}, the one it was handed (its client went
     * away): a handler chained before the cancellation then never runs, and nothing else would count it.
     */
    public void countCancellation(CompletableFuture<?> stage) {
        stage.whenComplete((r, t) -> {
            if (t instanceof CancellationException) record(InferenceException.Kind.CANCELLED.outcome, 0);
        });
    }

    /** The first outcome counts: a request whose client left may also see its answer's path fail or complete. */
    private void record(String outcome, long bytesOut) {
        if (recorded.compareAndSet(false, true)) metrics.request(model, protocol, outcome, System.nanoTime() - start, bytesIn, bytesOut);
    }
}
