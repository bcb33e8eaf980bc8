package io.freqfusion.serve.scheduling;

import io.freqfusion.serve.InferenceException;
import io.freqfusion.serve.admission.MemoryBudget;
import io.freqfusion.tensor.Tensor;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;

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
    private final MemoryBudget.Ticket ticket;
    private final AtomicBoolean leftBatcher = new AtomicBoolean();
    private volatile boolean holding;

    private final String requestId;

    public InferenceJob(Map<String, Tensor> inputs, List<String> outputs) { this(inputs, outputs, null, null); }

    /**
     * @param inputs  validated inputs, in the model's input order
     * @param outputs names of the outputs to return, in response order
     * @param ticket  the request's admission reservation, or null (not accounted)
     */
    public InferenceJob(Map<String, Tensor> inputs, List<String> outputs, String requestId, MemoryBudget.Ticket ticket) {
        this.requestId = requestId;
        this.ticket = ticket;
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

    /** Done (answered, failed, timed out or cancelled): a batcher skips it. */
    public boolean isDone() { return result.isDone(); }

    /** Its client went away: fails the result with CANCELLED (a batcher then skips it; a forward under way finishes). */
    public void cancel(String why) {
        result.completeExceptionally(new InferenceException(InferenceException.Kind.CANCELLED, why));
    }

    /**
     * The job is about to enter a batcher: it takes a hold on its request's reservation (the tensors stay in memory
     * while it is queued or computing, whatever became of the client), and is cancelled if the client goes away first.
     * Throws CANCELLED when the client is already gone.
     */
    public void admitted() {
        if (ticket == null) return;
        ticket.holdFor(() -> cancel("the client went away before its answer"));
        holding = true;
    }

    /**
     * The batcher no longer holds this job: its batch has run, it was dropped from the queue as done, it failed at
     * shutdown, or it was never admitted. Idempotent.
     */
    public void left() {
        if (holding && leftBatcher.compareAndSet(false, true)) ticket.release();
    }
}
