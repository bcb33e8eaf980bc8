package io.freqfusion.serve.scheduling;

import io.freqfusion.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * One validated request waiting for (or in) a batch. Its inputs share batch size {@link #batch()}; requests with
 * equal {@link #shapeKey()} (all non-batch dimensions) can be concatenated along dim 0.
 */
public final class InferenceJob {
    private final Map<String, Tensor> inputs;
    private final List<String> outputs;
    private final int batch;
    private final String shapeKey;
    private final long enqueuedNanos = System.nanoTime();
    private final CompletableFuture<Map<String, Tensor>> result = new CompletableFuture<>();

    /**
     * @param inputs  validated inputs, in the model's input order
     * @param outputs names of the outputs to return, in response order
     */
    private final String requestId;

    public InferenceJob(Map<String, Tensor> inputs, List<String> outputs) { this(inputs, outputs, null); }

    public InferenceJob(Map<String, Tensor> inputs, List<String> outputs, String requestId) {
        this.requestId = requestId;
        this.inputs = inputs;
        this.outputs = List.copyOf(outputs);
        this.batch = inputs.values().iterator().next().dim(0);
        StringBuilder sb = new StringBuilder();
        for (var e : inputs.entrySet()) {
            int[] s = e.getValue().shape();
            sb.append(e.getKey()).append(Arrays.toString(Arrays.copyOfRange(s, 1, s.length))).append(';');
        }
        this.shapeKey = sb.toString();
    }

    public Map<String, Tensor> inputs() { return inputs; }
    /** The request id (logs), or null. */
    public String requestId() { return requestId; }
    public List<String> outputs() { return outputs; }
    public int batch() { return batch; }
    public String shapeKey() { return shapeKey; }
    public long enqueuedNanos() { return enqueuedNanos; }

    /** Completes with the requested outputs, or exceptionally (InferenceException, TimeoutException). */
    public CompletableFuture<Map<String, Tensor>> result() { return result; }

    /** Done (answered, failed or timed out): a batcher skips it. */
    public boolean isDone() { return result.isDone(); }
}
