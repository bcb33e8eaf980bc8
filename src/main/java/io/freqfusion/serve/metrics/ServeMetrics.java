package io.freqfusion.serve.metrics;

import io.freqfusion.backend.Backend;
import io.freqfusion.backend.ProfiledBackend;
import io.freqfusion.backend.Stage;
import io.freqfusion.backend.StageTimes;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.ToDoubleFunction;

/**
 * Every metric of the service (Prometheus names in README "## Metrics"). Meter names are fixed: dashboards and
 * alerts are written against them. Model tags only carry configured model names (unknown names are folded into
 * {@link #UNKNOWN_MODEL}) so that clients cannot blow up the label cardinality.
 */
@ApplicationScoped
public class ServeMetrics {
    public static final String UNKNOWN_MODEL = "_unknown";
    public static final String REST = "rest", GRPC = "grpc";

    private static final Duration MIN_EXPECTED = Duration.ofNanos(100_000), MAX_EXPECTED = Duration.ofSeconds(60);
    private static final double[] BATCH_BUCKETS = {1, 2, 4, 8, 16, 32};

    @Inject
    MeterRegistry registry;

    public MeterRegistry registry() { return registry; }

    /** One finished request: latency, count and bytes. */
    public void request(String model, String protocol, String outcome, long nanos, long bytesIn, long bytesOut) {
        Tags tags = Tags.of("model", model, "protocol", protocol, "outcome", outcome);
        Timer.builder("freqfusion.request.duration").description("End-to-end latency of inference requests")
                .tags(tags).publishPercentileHistogram().minimumExpectedValue(MIN_EXPECTED).maximumExpectedValue(MAX_EXPECTED)
                .register(registry).record(nanos, TimeUnit.NANOSECONDS);
        Counter.builder("freqfusion.requests").description("Inference requests by outcome").tags(tags).register(registry).increment();
        Tags io = Tags.of("model", model, "protocol", protocol);
        if (bytesIn > 0) Counter.builder("freqfusion.request.bytes").description("Inference request body bytes received").tags(io).register(registry).increment(bytesIn);
        if (bytesOut > 0) Counter.builder("freqfusion.response.bytes").description("Inference response body bytes sent").tags(io).register(registry).increment(bytesOut);
    }

    public void queueWait(String model, long nanos) {
        Timer.builder("freqfusion.queue.wait").description("Time requests spend queued before their batch starts")
                .tag("model", model).publishPercentileHistogram().minimumExpectedValue(Duration.ofNanos(10_000)).maximumExpectedValue(MAX_EXPECTED)
                .register(registry).record(nanos, TimeUnit.NANOSECONDS);
    }

    /** Compute time of one batched forward, per stage (stages that did not run are not recorded). */
    public void stages(String model, StageTimes times) {
        for (Stage s : Stage.values()) {
            long ns = times.nanos(s);
            if (ns <= 0) continue;
            Timer.builder("freqfusion.stage.duration").description("Compute time per forward stage, per batched forward")
                    .tags("model", model, "stage", s.metricName).publishPercentileHistogram()
                    .minimumExpectedValue(Duration.ofNanos(10_000)).maximumExpectedValue(MAX_EXPECTED)
                    .register(registry).record(ns, TimeUnit.NANOSECONDS);
        }
    }

    public void batchSize(String model, int size) {
        DistributionSummary.builder("freqfusion.batch.size").description("Batch size (sum of dim 0) of each forward run")
                .tag("model", model).serviceLevelObjectives(BATCH_BUCKETS).register(registry).record(size);
    }

    /** Registers the per-model gauges; the suppliers are read at scrape time. */
    public void modelGauges(String model, Supplier<Number> queueDepth, Supplier<Number> inflight, Supplier<Number> capacity,
                            Supplier<Number> loadSeconds, Supplier<Number> ready, Supplier<String> state) {
        gauge("freqfusion.queue.depth", "Requests waiting in the model's queue", Tags.of("model", model), queueDepth);
        gauge("freqfusion.inflight.requests", "Requests admitted and not yet answered", Tags.of("model", model), inflight);
        gauge("freqfusion.queue.capacity", "Capacity of the model's queue", Tags.of("model", model), capacity);
        gauge("freqfusion.model.load.seconds", "Time the model took to load and warm up", Tags.of("model", model), loadSeconds);
        gauge("freqfusion.model.ready", "1 if the model is READY, else 0", Tags.of("model", model), ready);
        for (String s : new String[] {"LOADING", "READY", "UNAVAILABLE"}) {
            gauge("freqfusion.model.state", "1 for the model's current state", Tags.of("model", model, "state", s),
                    () -> s.equals(state.get()) ? 1 : 0);
        }
    }

    public void backendInfo(String backend, String device) {
        Gauge.builder("freqfusion.backend.info", () -> 1).description("Backends in use (value 1)")
                .tags("backend", backend, "device", device).strongReference(true).register(registry);
    }

    /** For accelerator backends: JIT time as a counter (registered once per backend). */
    public void backendCompileTime(ProfiledBackend backend) {
        FunctionCounter.builder("freqfusion.backend.compile.seconds", backend, b -> b.compileNanos() / 1e9)
                .description("Time the backend spent compiling kernels (TornadoVM JIT), cumulative")
                .tags("backend", backend.name()).register(registry);
    }

    /** backend/task pairs whose kernel-time counter is registered (Micrometer warns on re-registration). */
    private final java.util.Set<String> kernelCounters = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * Per-task kernel time of accelerator backends (TornadoVM profiler), cumulative; called after each forward.
     * New task names get a counter as their graphs are compiled; the counters read the backend at scrape time.
     */
    public void backendKernelTimes(Backend backend) {
        if (!(backend instanceof ProfiledBackend pb)) return;
        for (String task : pb.kernelNanosTotal().keySet()) {
            if (!kernelCounters.add(pb.name() + "/" + task)) continue;
            FunctionCounter.builder("freqfusion.backend.kernel.seconds", pb, b -> b.kernelNanosTotal().getOrDefault(task, 0L) / 1e9)
                    .description("Device kernel time per task (TornadoVM profiler), cumulative")
                    .tags("backend", pb.name(), "task", task).register(registry);
        }
    }

    private void gauge(String name, String description, Tags tags, Supplier<Number> value) {
        ToDoubleFunction<Supplier<Number>> f = s -> {
            Number n = s.get();
            return n == null ? Double.NaN : n.doubleValue();
        };
        Gauge.builder(name, value, f).description(description).tags(tags).strongReference(true).register(registry);
    }
}
