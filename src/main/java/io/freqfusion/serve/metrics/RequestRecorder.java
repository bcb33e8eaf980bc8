package io.freqfusion.serve.metrics;

import io.freqfusion.serve.InferenceException;

/** Measures one inference request for the request metrics (latency, count, bytes) by model, protocol and outcome. */
public final class RequestRecorder {
    private final ServeMetrics metrics;
    private final String protocol;
    private final long start = System.nanoTime();
    private final long bytesIn;
    private volatile String model;

    public RequestRecorder(ServeMetrics metrics, String protocol, String model, long bytesIn) {
        this.metrics = metrics;
        this.protocol = protocol;
        this.model = model;
        this.bytesIn = bytesIn;
    }

    public void ok(long bytesOut) { metrics.request(model, protocol, "ok", System.nanoTime() - start, bytesIn, bytesOut); }

    public void failed(InferenceException e, long bytesOut) {
        metrics.request(model, protocol, e.kind().outcome, System.nanoTime() - start, bytesIn, bytesOut);
    }
}
