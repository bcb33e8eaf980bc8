package io.freqfusion.serve.admission;

import io.freqfusion.serve.InferenceException;
import io.freqfusion.serve.InferenceException.Kind;
import io.freqfusion.serve.ServeConfig;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.annotation.PostConstruct;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The global admission budget in bytes ({@code freqfusion.limits.max-inflight-bytes}, by default a fraction of the
 * maximum heap). Every inference request holds a {@link Ticket} from before its body is read (REST: from the declared
 * Content-Length; gRPC: from the received message size) until its response is written; the ticket grows, before any
 * tensor is decoded or computed, by the request's estimated working set ({@link #inputBytes}, {@link #outputBytes}).
 * A reservation that does not fit is refused at once: 429 / RESOURCE_EXHAUSTED with Retry-After (or 413 when the one
 * request could never fit). A request whose client went away keeps its bytes until its batcher lets go of it (a
 * forward under way finishes). So queued + running requests never hold more than the budget, whatever the traffic.
 */
@ApplicationScoped
@io.quarkus.runtime.Startup
public class MemoryBudget {
    private static final Logger LOG = Logger.getLogger(MemoryBudget.class);

    /** REST body reservation per declared byte: the network buffer, the body array and the JSON parser's number array. */
    public static final int REST_BODY_FACTOR = 4;
    /** gRPC message reservation per serialized byte: the transport buffer and the parsed message. */
    public static final int GRPC_MESSAGE_FACTOR = 2;
    /** Per input element: the decoded FP32 tensor and its copy when concatenated into a batch. */
    public static final int INPUT_BYTES_PER_ELEMENT = 8;
    /** Per output element returned as JSON numbers: result, batch slice, encoder buffer + its array + the network buffer (<= 16 chars each). */
    public static final int OUTPUT_BYTES_PER_JSON_ELEMENT = 8 + 3 * 16;
    /**
     * Per output element of a forward: the backend's scratch for the request's shape (the CPU backend's compressed
     * features, kernel logits and upsampled features; about 3 floats per output element for C = 8, less for wider models).
     */
    public static final int PLAN_BYTES_PER_OUTPUT_ELEMENT = 12;
    /** Per output element returned raw (REST binary extension, gRPC raw or typed contents). */
    public static final int OUTPUT_BYTES_PER_BINARY_ELEMENT = 8 + 4 * 4;

    @Inject
    ServeConfig config;
    @Inject
    MeterRegistry registry;

    private long capacity;
    private final AtomicLong used = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();

    @PostConstruct
    void init() {
        ServeConfig.Limits l = config.limits();
        capacity = l.maxInflightBytes() > 0 ? l.maxInflightBytes()
                : (long) (Runtime.getRuntime().maxMemory() * Math.min(0.95, Math.max(0.05, l.maxInflightHeapFraction())));
        Gauge.builder("freqfusion.inflight.bytes", used, AtomicLong::get).description("Bytes reserved by admitted requests (admission budget in use)")
                .baseUnit("bytes").strongReference(true).register(registry);
        Gauge.builder("freqfusion.inflight.bytes.limit", this, MemoryBudget::capacity).description("Admission budget (freqfusion.limits.max-inflight-bytes)")
                .baseUnit("bytes").strongReference(true).register(registry);
        LOG.infof("admission budget %d MiB (max heap %d MiB), max body %d MiB", capacity >> 20, Runtime.getRuntime().maxMemory() >> 20,
                l.maxBodyBytes() >> 20);
    }

    public long capacity() { return capacity; }

    /** The cap on a model's cached plans (freqfusion.limits.max-plan-cache-bytes; 0 = 1/8 of the maximum heap). */
    public long planCacheBytes() {
        long v = config.limits().maxPlanCacheBytes();
        return v > 0 ? v : Runtime.getRuntime().maxMemory() / 8;
    }

    public long used() { return used.get(); }

    /** Highest reservation total seen (for tests and reports). */
    public long peak() { return peak.get(); }

    /** A ticket holding nothing yet. */
    public Ticket open() { return new Ticket(); }

    /** Estimated bytes of a request's decoded inputs. */
    public static long inputBytes(long elements) { return mul(elements, INPUT_BYTES_PER_ELEMENT); }

    /** Estimated bytes of an output of {@code elements} returned as JSON (binary false) or raw (binary true). */
    public static long outputBytes(long elements, boolean binary) {
        return mul(elements, binary ? OUTPUT_BYTES_PER_BINARY_ELEMENT : OUTPUT_BYTES_PER_JSON_ELEMENT);
    }

    public static long mul(long a, long b) {
        long hi = Math.multiplyHigh(a, b), lo = a * b;
        return hi != 0 || lo < 0 ? Long.MAX_VALUE : lo;
    }

    private static String mib(long b) { return b == Long.MAX_VALUE ? "too many" : String.format("%.1f MiB", b / 1048576.0); }

    /**
     * The bytes one request holds. Two parties may hold them: the transport (from before the body is read until the
     * response is written or the client is gone: {@link #close}) and the request's job while a batcher has it
     * ({@link #holdFor}: queued or computing, its tensors are in memory whatever became of the client). The bytes
     * return to the budget when both have let go. Thread-safe.
     */
    public final class Ticket implements AutoCloseable {
        private long held;
        private boolean closed;
        private int holders = 1;
        private Runnable onClientGone;

        /** Reserves {@code bytes} more, or throws TOO_LARGE (could never fit) / QUEUE_FULL (does not fit now: retry). */
        public synchronized void reserve(long bytes, String what) {
            if (bytes <= 0) return;
            if (closed) throw new InferenceException(Kind.CANCELLED, "the client went away before the request was admitted");
            long total = held + bytes;
            if (total < 0 || total > capacity) {
                throw new InferenceException(Kind.TOO_LARGE, what + " needs about " + mib(total < 0 ? Long.MAX_VALUE : total)
                        + " of working memory, more than the server's admission budget of " + mib(capacity)
                        + " (freqfusion.limits.max-inflight-bytes): send smaller requests");
            }
            while (true) {
                long u = used.get(), n = u + bytes;
                if (n > capacity) {
                    throw new InferenceException(Kind.QUEUE_FULL, "server busy: " + mib(u) + " of the " + mib(capacity)
                            + " admission budget held by requests in flight, " + what + " needs " + mib(bytes) + " more; retry later");
                }
                if (used.compareAndSet(u, n)) {
                    peak.accumulateAndGet(n, Math::max);
                    break;
                }
            }
            held = total;
        }

        public synchronized long held() { return held; }

        /**
         * The request's job takes a hold (given back with {@link #release}) for as long as a batcher has it;
         * {@code onClientGone} runs if the transport closes first (the client went away: nobody will read the result).
         * Throws CANCELLED when the transport has already closed.
         */
        public void holdFor(Runnable onClientGone) {
            synchronized (this) {
                if (!closed) {
                    holders++;
                    this.onClientGone = onClientGone;
                    return;
                }
            }
            throw new InferenceException(Kind.CANCELLED, "the client closed the connection before the request was queued");
        }

        /** The job's hold ends (the batcher let go of it). */
        public synchronized void release() {
            onClientGone = null;
            drop();
        }

        /** The transport is done with the request (response written, or the client gone). Idempotent. */
        @Override
        public void close() {
            Runnable gone;
            synchronized (this) {
                if (closed) return;
                closed = true;
                gone = onClientGone;
                onClientGone = null;
                drop();
            }
            if (gone != null) gone.run();
        }

        private void drop() {
            if (--holders > 0) return;
            used.addAndGet(-held);
            held = 0;
        }
    }
}
