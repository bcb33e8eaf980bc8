package io.freqfusion.serve;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * The service's settings ({@code freqfusion.*} in application.properties; every key can also be set as an
 * environment variable, e.g. {@code FREQFUSION_MODELS_DIR}, {@code FREQFUSION_MAX_BATCH_SIZE}).
 */
@ConfigMapping(prefix = "freqfusion")
public interface ServeConfig {

    /** Model repository: one folder per model. Absent: the built-in models are served. */
    Optional<Path> modelsDir();

    /** Default backend of every model ("cpu", or "tornado" when its jar is on the class path). */
    @WithDefault("cpu")
    String backend();

    /** Extra backend options passed to {@code Backends.create} (e.g. {@code freqfusion.backend-options.device=0:0}). */
    Map<String, String> backendOptions();

    Cpu cpu();

    /** Default largest batch (sum of the requests' dim 0) the dynamic batcher forms; a model's config.json may override. */
    @WithDefault("8")
    int maxBatchSize();

    /** How long the oldest queued request may wait for others to join its batch. 0 disables waiting. */
    @WithDefault("2ms")
    Duration maxQueueDelay();

    /** Requests a model may hold waiting (not yet computing); beyond that new ones are rejected (429 / RESOURCE_EXHAUSTED). */
    @WithDefault("64")
    int queueCapacity();

    /** Longest time a request may take from admission to result (504 / DEADLINE_EXCEEDED after it). */
    @WithDefault("30s")
    Duration requestTimeout();

    /** True: ready only when every model is READY. False: ready once no model is still LOADING. */
    @WithDefault("true")
    boolean strictReadiness();

    Limits limits();

    Warmup warmup();

    Auth auth();

    Recovery recovery();

    /**
     * Backend to fall back to when a model's backend fails a forward (e.g. "cpu" for a GPU model): the failed batch is
     * re-run on it and the model keeps serving there. Absent: the failed requests get 503 and the model is UNAVAILABLE
     * until a recovery probe succeeds.
     */
    Optional<String> fallbackBackend();

    /** On shutdown: how long admitted requests may take to finish before the rest are failed (503). */
    @WithDefault("10s")
    Duration drainTimeout();

    interface Auth {
        /** Bearer token required on the inference and admin endpoints (REST and gRPC). Absent (and no token-file): no authentication. */
        Optional<String> token();

        /** File holding the token (first line, trimmed), e.g. a mounted Kubernetes secret; read at startup. */
        Optional<Path> tokenFile();

        /** Also require the token on /q/metrics (health endpoints stay open for probes). */
        @WithDefault("false")
        boolean protectMetrics();
    }

    interface Recovery {
        /** After a backend failure, probe the model (one warm-up forward) this often until it succeeds; then it is READY again. */
        @WithDefault("2s")
        Duration interval();
    }

    interface Cpu {
        /** Worker threads of the CPU backend; 0 = one per available processor. */
        @WithDefault("0")
        int threads();
    }

    interface Limits {
        /** Largest request body (REST) or message (gRPC), bytes. Keep quarkus.http.limits.max-body-size in step (it is by default). */
        @WithDefault("67108864")
        long maxBodyBytes();

        /** Largest number of tensor elements in one request, all inputs together. */
        @WithDefault("16777216")
        long maxTensorElements();

        /**
         * Admission budget: bytes that admitted requests (bodies, decoded inputs, outputs, encoded responses; queued and
         * running together) may hold at once; a request that does not fit gets 429 / RESOURCE_EXHAUSTED with Retry-After.
         * 0 = {@code max-inflight-heap-fraction} of the maximum heap.
         */
        @WithDefault("0")
        long maxInflightBytes();

        /** Fraction of the maximum heap (Runtime.maxMemory) used as the admission budget when max-inflight-bytes is 0. */
        @WithDefault("0.5")
        double maxInflightHeapFraction();

        /**
         * Estimated bytes of prepared forwards (per-shape scratch) a model may keep cached between requests; beyond it the
         * model's cached plans are dropped (re-prepared on next use). 0 = 1/8 of the maximum heap.
         */
        @WithDefault("0")
        long maxPlanCacheBytes();

        /** Upper bound of any model's max_batch_size (larger configured values are clamped). */
        @WithDefault("64")
        int maxBatch();

        /** Largest height or width of any input tensor. */
        @WithDefault("4096")
        int maxSpatial();
    }

    interface Warmup {
        /** Run warm-up forwards per model before reporting it ready. */
        @WithDefault("true")
        boolean enabled();

        /** Height and width of the finest warm-up input (lr / coarser levels are halved), batch 1. */
        @WithDefault("32")
        int size();

        /**
         * After the first (checked) forward, keep running warm-up forwards for this long before the model is READY,
         * so that its first requests run JIT-compiled kernels: without it the first ~50 W2 requests averaged a 48 ms
         * forward against 7 ms once compiled.
         */
        @WithDefault("2s")
        java.time.Duration duration();
    }
}
