package io.freqfusion.serve.repository;

import io.freqfusion.backend.Backend;
import io.freqfusion.backend.Backends;
import io.freqfusion.model.ConfigException;
import io.freqfusion.model.FusionModel;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.model.Topology;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.serve.ServeConfig;
import io.freqfusion.serve.metrics.ServeMetrics;
import io.freqfusion.serve.scheduling.Batcher;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The served models: the folders of {@code freqfusion.models-dir}, or the built-in models when none is configured.
 * Models are listed at startup (state LOADING) and then loaded and warmed up one after another on a loader thread;
 * a model that fails becomes UNAVAILABLE with the reason, the others are served.
 *
 * <p>Folder layout: {@code <name>/config.json} (FreqFusion options under the reference's names, {@code "pyramid"},
 * optional service keys {@code max_batch_size}, {@code backend}, {@code max_queue_delay_ms}, {@code queue_capacity})
 * with {@code <name>/weights.safetensors}, or a self-describing {@code <name>/model.safetensors} (config.json optional).
 */
@ApplicationScoped
public class ModelRepository {
    private static final Logger LOG = Logger.getLogger(ModelRepository.class);
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");
    /** Keys of config.json that configure the service, not the FreqFusion modules. */
    static final List<String> SERVICE_KEYS = List.of("max_batch_size", "backend", "max_queue_delay_ms", "queue_capacity", "max_spatial");
    private static final long MAX_CONFIG_BYTES = 1 << 20;
    /** Built-in models: name, topology, channels, levels. */
    private static final long BUILT_IN_SEED = 0;

    @Inject
    ServeConfig config;
    @Inject
    ServeMetrics metrics;
    @Inject
    io.freqfusion.serve.admission.MemoryBudget budget;

    private final Map<String, ServedModel> models = new LinkedHashMap<>();
    private final Map<String, Backend> backends = new ConcurrentHashMap<>();
    private volatile boolean loadingDone;
    private volatile Thread loader;
    private volatile boolean draining;
    private final java.util.Set<String> recovering = ConcurrentHashMap.newKeySet();
    private final java.util.concurrent.ScheduledExecutorService recovery = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(
            r -> Thread.ofPlatform().name("freqfusion-recovery").daemon(true).unstarted(r));

    /** How to obtain one model: its FusionModel and the service options of its config. */
    private interface Source {
        Loaded load() throws Exception;
    }

    private record Loaded(FusionModel model, Map<String, Object> service) {}

    /**
     * Keys of this service under freqfusion.* (anything else is reported, as it is likely a typo). The launcher's own
     * environment variables (FREQFUSION_JVM_OPTS, FREQFUSION_JAVA_HOME, FREQFUSION_SKIP_BUILD, FREQFUSION_TORNADO_JAR)
     * reach the configuration as freqfusion.jvm.opts and so on: known too.
     */
    private static final Pattern KNOWN_KEYS = Pattern.compile("freqfusion\\.(models-dir|backend|backend-options\\..+|cpu\\.threads|max-batch-size"
            + "|max-queue-delay|queue-capacity|request-timeout|strict-readiness"
            + "|limits\\.(max-body-bytes|max-tensor-elements|max-batch|max-spatial|max-inflight-bytes|max-inflight-heap-fraction|max-plan-cache-bytes)"
            + "|auth\\.(token|token-file|protect-metrics)|recovery\\.interval|fallback-backend|drain-timeout"
            + "|warmup\\.(enabled|size|duration)|golden\\.dir|fuzz\\..+|tornado\\..+"
            + "|jvm\\.opts|java\\.home|skip\\.build)");

    void onStart(@Observes StartupEvent event) {
        for (String key : org.eclipse.microprofile.config.ConfigProvider.getConfig().getPropertyNames()) {
            if (key.startsWith("freqfusion.") && !KNOWN_KEYS.matcher(key).matches()) {
                LOG.warnf("unknown setting %s (see README \"Configuration\")", key);
            }
        }
        Map<String, Source> sources = new LinkedHashMap<>();
        Map<String, String> where = new LinkedHashMap<>();
        if (config.modelsDir().isPresent()) {
            Path dir = config.modelsDir().get();
            if (!Files.isDirectory(dir)) {
                throw new IllegalStateException("freqfusion.models-dir=" + dir.toAbsolutePath() + " is not a directory");
            }
            try (Stream<Path> s = Files.list(dir)) {
                for (Path p : s.filter(Files::isDirectory).sorted().toList()) {
                    String name = p.getFileName().toString();
                    if (name.startsWith(".")) continue;
                    if (!NAME.matcher(name).matches()) {
                        LOG.warnf("models-dir: skipping folder '%s': a model name is letters, digits, '_', '.', '-'", name);
                        continue;
                    }
                    sources.put(name, () -> fromFolder(p));
                    where.put(name, p.toAbsolutePath().toString());
                }
            } catch (IOException e) {
                throw new IllegalStateException("cannot list freqfusion.models-dir=" + dir + ": " + e.getMessage(), e);
            }
            if (sources.isEmpty()) LOG.warnf("models-dir %s holds no model folders", dir.toAbsolutePath());
        } else {
            sources.put("freqfusion", () -> new Loaded(ModelLoader.builtIn(Topology.SINGLE, 256, 2, Map.of(), BUILT_IN_SEED), Map.of()));
            sources.put("freqfusion-fpn", () -> new Loaded(ModelLoader.builtIn(Topology.FPN_ADD, 256, 4, Map.of(), BUILT_IN_SEED), Map.of()));
            sources.put("freqfusion-small", () -> new Loaded(ModelLoader.builtIn(Topology.SINGLE, 8, 2, Map.of(), BUILT_IN_SEED), Map.of()));
            sources.keySet().forEach(k -> where.put(k, "built-in"));
            LOG.info("no freqfusion.models-dir: serving the built-in models " + sources.keySet());
        }
        synchronized (models) {
            for (String name : sources.keySet()) {
                ServedModel m = new ServedModel(name, where.get(name));
                models.put(name, m);
                metrics.modelGauges(name,
                        () -> m.batcher() == null ? 0 : m.batcher().queueDepth(),
                        () -> m.batcher() == null ? 0 : m.batcher().inflight(),
                        () -> m.batcher() == null ? queueCapacity(Map.of()) : m.batcher().capacity(),
                        m::loadSeconds,
                        () -> m.isReady() ? 1 : 0,
                        () -> m.state().name());
            }
        }
        loader = Thread.ofPlatform().name("freqfusion-loader").daemon(true).start(() -> {
            for (var e : sources.entrySet()) load(models.get(e.getKey()), e.getValue());
            loadingDone = true;
            LOG.infof("models loaded: %s", summary());
        });
    }

    void onStop(@Observes ShutdownEvent event) {
        drain(config.drainTimeout());
        recovery.shutdownNow();
        for (ServedModel m : all()) {
            if (m.runner() != null) m.runner().close();
        }
        backends.values().forEach(Backend::close);
    }

    /**
     * Graceful shutdown: every model stops admitting (new requests get 503 UNAVAILABLE "shutting down"), admitted ones
     * (queued and computing) finish within {@code timeout}, then the rest fail with 503 and the batchers stop. Idempotent.
     */
    public void drain(Duration timeout) {
        draining = true;
        Thread l = loader;
        if (l != null) l.interrupt();
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Batcher> batchers = new ArrayList<>();
        for (ServedModel m : all()) if (m.batcher() != null) batchers.add(m.batcher());
        batchers.forEach(Batcher::stopAccepting);
        int waiting = batchers.stream().mapToInt(Batcher::inflight).sum();
        if (waiting > 0) LOG.infof("shutdown: draining %d request(s) in flight (up to %d ms)", waiting, timeout.toMillis());
        for (Batcher b : batchers) b.shutdown(Math.max(0, (deadline - System.nanoTime()) / 1_000_000));
    }

    /** Whether shutdown has begun. */
    public boolean draining() { return draining; }

    public Collection<ServedModel> all() {
        synchronized (models) {
            return List.copyOf(models.values());
        }
    }

    /** The model of that name, or null. */
    public ServedModel get(String name) {
        synchronized (models) {
            return models.get(name);
        }
    }

    /** Whether the initial loading has finished (every model READY or UNAVAILABLE). */
    public boolean loadingDone() { return loadingDone; }

    /** Server readiness: loading finished and (strict) every model READY. */
    public boolean ready() {
        if (!loadingDone || draining) return false;
        if (!config.strictReadiness()) return true;
        for (ServedModel m : all()) if (!m.isReady()) return false;
        return true;
    }

    public String summary() {
        StringBuilder sb = new StringBuilder();
        for (ServedModel m : all()) {
            if (!sb.isEmpty()) sb.append(", ");
            sb.append(m.name()).append('=').append(m.state());
        }
        return sb.toString();
    }

    private void load(ServedModel m, Source source) {
        long t0 = System.nanoTime();
        try {
            Loaded l = source.load();
            Map<String, Object> svc = l.service();
            String backendName = svc.containsKey("backend") ? stringOption(svc, "backend") : config.backend();
            Backend backend = backend(backendName);
            int maxBatch = maxBatch(m.name(), svc);
            FusionRunner runner = new FusionRunner(l.model(), backend);
            if (config.warmup().enabled()) warmUp(m.name(), runner, config.warmup().duration());
            long delayNanos = svc.containsKey("max_queue_delay_ms")
                    ? Math.round(number(svc, "max_queue_delay_ms").doubleValue() * 1e6) : config.maxQueueDelay().toNanos();
            if (delayNanos < 0) throw new ConfigException("max_queue_delay_ms must not be negative");
            Batcher batcher = new Batcher(m.name(), runner, maxBatch, delayNanos, queueCapacity(svc), metrics);
            batcher.onFailure((b, t) -> backendFailed(m, b, t));
            batcher.planCacheCap(budget.planCacheBytes());
            if (svc.containsKey("max_spatial")) {
                int ms = number(svc, "max_spatial").intValue();
                if (ms < 1) throw new ConfigException("max_spatial must be at least 1, got " + ms);
                m.maxSpatial(ms);
            }
            batcher.start();
            double secs = (System.nanoTime() - t0) / 1e9;
            m.ready(l.model(), runner, batcher, backend.name(), maxBatch, secs);
            LOG.infof("model '%s' READY (%s, %s, %d stage(s), backend %s, max_batch_size %d) in %.2f s", m.name(), m.source(),
                    l.model().topology().id, l.model().stages().size(), backend.name(), maxBatch, secs);
        } catch (Throwable t) {
            if (t instanceof InterruptedException) Thread.currentThread().interrupt();
            String reason = t instanceof IllegalArgumentException || t instanceof IOException
                    ? t.getMessage() : t.getClass().getSimpleName() + ": " + t.getMessage();
            m.unavailable(reason, (System.nanoTime() - t0) / 1e9);
            LOG.errorf("model '%s' (%s) UNAVAILABLE: %s", m.name(), m.source(), reason);
            if (!(t instanceof IllegalArgumentException || t instanceof IOException)) LOG.debug("model load failure", t);
        }
    }

    /**
     * A backend failure on model {@code m} (batcher thread). With freqfusion.fallback-backend set (and different from the
     * failed one): a runner on the fallback backend, on which the model keeps serving. Otherwise the model becomes
     * UNAVAILABLE (readiness goes down) and a recovery probe is scheduled; null.
     */
    private FusionRunner backendFailed(ServedModel m, Batcher b, Throwable t) {
        String failed = b.runner().backend().name();
        String fb = config.fallbackBackend().filter(s -> !s.isBlank()).orElse(null);
        if (fb != null && !fb.equals(failed)) {
            try {
                Backend backend = backend(fb);
                FusionRunner r = new FusionRunner(m.model(), backend);
                b.retire(b.runner());
                m.fellBack(r, backend.name());
                LOG.warnf("model '%s': backend %s failed (%s); falling back to %s", m.name(), failed, t, backend.name());
                return r;
            } catch (RuntimeException e) {
                LOG.errorf(e, "model '%s': cannot create the fallback backend %s", m.name(), fb);
            }
        }
        if (m.state() == ModelState.READY) {
            m.failed("backend " + failed + " failed: " + t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage())
                    + " (recovering)");
            LOG.errorf("model '%s' UNAVAILABLE after a backend failure; probing every %d ms", m.name(), config.recovery().interval().toMillis());
        }
        scheduleRecovery(m);
        return null;
    }

    private void scheduleRecovery(ServedModel m) {
        if (draining || !recovering.add(m.name())) return;
        try {
            recovery.schedule(() -> probe(m), Math.max(1, config.recovery().interval().toMillis()), java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            recovering.remove(m.name());
        }
    }

    /** Re-prepares the model on its backend (a fresh runner: plans and device state rebuilt) and runs a warm-up forward. */
    private void probe(ServedModel m) {
        recovering.remove(m.name());
        if (draining) return;
        Batcher b = m.batcher();
        FusionRunner fresh = new FusionRunner(m.model(), b.runner().backend());
        try {
            warmUp(m.name(), fresh, java.time.Duration.ZERO);        // a check, not a warm-up: the JIT is warm
        } catch (Throwable t) {
            fresh.close();
            LOG.warnf("model '%s': recovery probe failed (%s); retrying", m.name(), t.toString());
            scheduleRecovery(m);
            return;
        }
        FusionRunner old = b.runner();
        b.runner(fresh);
        b.retire(old);
        m.recovered(fresh);
        LOG.infof("model '%s' READY again: recovery probe on backend %s succeeded", m.name(), fresh.backend().name());
    }

    private Loaded fromFolder(Path dir) throws IOException {
        Path cfg = dir.resolve("config.json"), weights = dir.resolve("weights.safetensors"), self = dir.resolve("model.safetensors");
        Map<String, Object> opts = new LinkedHashMap<>();
        if (Files.isRegularFile(cfg)) {
            if (Files.size(cfg) > MAX_CONFIG_BYTES) throw new ConfigException("config.json is larger than 1 MiB");
            opts.putAll(ModelLoader.parseOptions(Files.readString(cfg)));
        }
        Path file;
        if (Files.isRegularFile(weights)) {
            if (!Files.isRegularFile(cfg)) throw new ConfigException("weights.safetensors needs a config.json beside it (or use a self-describing model.safetensors)");
            file = weights;
        } else if (Files.isRegularFile(self)) {
            file = self;
        } else {
            throw new ConfigException("no weights: expected config.json + weights.safetensors, or model.safetensors, in " + dir.getFileName());
        }
        Map<String, Object> service = new LinkedHashMap<>();
        for (String k : SERVICE_KEYS) if (opts.containsKey(k)) service.put(k, opts.remove(k));
        SafeTensors.Contents contents = SafeTensors.read(file);
        String prefix = "";
        boolean hasParam = contents.tensors().keySet().stream().anyMatch(n -> n.startsWith("param."));
        boolean hasRoot = contents.tensors().keySet().stream().anyMatch(n -> n.startsWith("hr_channel_compressor.") || n.startsWith("ff1."));
        if (hasParam && !hasRoot) prefix = "param."; // a golden-style file (input./param./output.) dropped in as is
        try {
            return new Loaded(ModelLoader.load(contents, prefix, opts), service);
        } catch (ConfigException e) {
            throw new ConfigException(file.getFileName() + ": " + e.getMessage());
        }
    }

    private synchronized Backend backend(String name) {
        Backend b = backends.get(name);
        if (b != null) return b;
        Map<String, String> opts = new LinkedHashMap<>(config.backendOptions());
        if (name.equals("cpu")) opts.putIfAbsent("threads", Integer.toString(config.cpu().threads()));
        b = Backends.create(name, opts);
        backends.put(name, b);
        metrics.backendInfo(b.name(), b.device());
        if (b instanceof io.freqfusion.backend.ProfiledBackend pb) metrics.backendCompileTime(pb);
        LOG.infof("backend %s: %s", b.name(), b.device());
        return b;
    }

    private int maxBatch(String model, Map<String, Object> svc) {
        int mb = svc.containsKey("max_batch_size") ? number(svc, "max_batch_size").intValue() : config.maxBatchSize();
        if (mb < 1) throw new ConfigException("max_batch_size must be at least 1, got " + mb);
        if (mb > config.limits().maxBatch()) {
            LOG.warnf("model '%s': max_batch_size %d exceeds freqfusion.limits.max-batch=%d; using %d", model, mb,
                    config.limits().maxBatch(), config.limits().maxBatch());
            mb = config.limits().maxBatch();
        }
        return mb;
    }

    private int queueCapacity(Map<String, Object> svc) {
        int c = svc.containsKey("queue_capacity") ? number(svc, "queue_capacity").intValue() : config.queueCapacity();
        if (c < 1) throw new ConfigException("queue_capacity must be at least 1, got " + c);
        return c;
    }

    private static Number number(Map<String, Object> m, String key) {
        if (m.get(key) instanceof Number n) return n;
        throw new ConfigException(key + ": expected a number, got " + m.get(key));
    }

    private static String stringOption(Map<String, Object> m, String key) {
        if (m.get(key) instanceof String s && !s.isBlank()) return s;
        throw new ConfigException(key + ": expected a string, got " + m.get(key));
    }

    /**
     * Forwards at the warm-up size (batch 1, seeded inputs) for {@code duration}, at least one; the first one's
     * outputs must be finite.
     */
    private void warmUp(String name, FusionRunner runner, Duration duration) {
        FusionModel model = runner.model();
        List<String> inputs = model.inputNames();
        int[] channels = model.inputChannels();
        int unit = 1 << (inputs.size() - 1);
        int size = Math.max(unit, (config.warmup().size() + unit - 1) / unit * unit);
        SplittableRandom rnd = new SplittableRandom(42);
        Map<String, Tensor> in = new LinkedHashMap<>();
        for (int i = 0; i < inputs.size(); i++) {
            int hw = size >> i;
            Tensor t = Tensor.zeros(1, channels[i], hw, hw);
            float[] d = t.data();
            for (int k = 0; k < d.length; k++) d[k] = (float) (rnd.nextDouble() * 2 - 1);
            in.put(inputs.get(i), t);
        }
        long t0 = System.nanoTime();
        Map<String, Tensor> out = runner.run(in, null);
        for (var e : out.entrySet()) {
            for (float v : e.getValue().data()) {
                if (!Float.isFinite(v)) throw new IllegalStateException("warm-up produced non-finite values in output '" + e.getKey() + "' (bad weights?)");
            }
        }
        long end = t0 + duration.toNanos();
        int runs = 1;
        for (; System.nanoTime() < end; runs++) runner.runInto(in, out, null);
        LOG.debugf("model '%s' warmed up at %dx%d: %d forwards in %.1f ms", name, size, size, runs, (System.nanoTime() - t0) / 1e6);
    }

    /** The configured request timeout (used by the transports). */
    public Duration requestTimeout() { return config.requestTimeout(); }

    /** For diagnostics. */
    public List<String> names() {
        synchronized (models) {
            return new ArrayList<>(models.keySet());
        }
    }
}
