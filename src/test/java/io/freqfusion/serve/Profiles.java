package io.freqfusion.serve;

import io.quarkus.test.junit.QuarkusTestProfile;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/** Test profiles: each builds its model repository under target/test-models before Quarkus starts. */
public final class Profiles {
    private Profiles() {}

    static Map<String, String> base(Path models) {
        Map<String, String> m = new HashMap<>();
        if (models != null) m.put("freqfusion.models-dir", models.toString());
        m.put("quarkus.grpc.server.test-port", Integer.toString(TestModels.freePort()));
        m.put("freqfusion.warmup.size", "8");
        m.put("freqfusion.warmup.duration", "0s");          // one checked forward per model: the tests load dozens
        m.put("freqfusion.cpu.threads", "2");
        return m;
    }

    /** {@link #base} over a repository of its own holding small_c8 (config.json + weights, with these config keys). */
    static Map<String, String> smallC8(String repoName, Map<String, Object> config) {
        Path repo = TestModels.repo(repoName);
        TestModels.configAndWeights(repo, "small_c8", "small_c8", config);
        return base(repo);
    }

    /** The golden models: config.json + weights, self-describing, pyramid, and a golden file as is. */
    public static class Golden implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Path repo = TestModels.repo("golden");
            TestModels.configAndWeights(repo, "small_c8", "small_c8", Map.of("max_batch_size", 4));
            TestModels.selfDescribing(repo, "opt_feature_resample", "opt_feature_resample");
            TestModels.configAndWeights(repo, "batch2", "batch2", Map.of());
            TestModels.selfDescribing(repo, "nonsquare", "nonsquare");
            TestModels.configAndWeights(repo, "fpn_add_c16", "fpn_add_c16", Map.of());
            TestModels.goldenAsIs(repo, "odd_lr", "odd_lr");
            return base(repo);
        }
    }

    /** One model, a long batching window: concurrent requests must coalesce. */
    public static class Batching implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = smallC8("batching", Map.of());
            m.put("freqfusion.max-queue-delay", "100ms");
            m.put("freqfusion.max-batch-size", "8");
            return m;
        }
    }

    /** A good model beside a broken one (strict readiness: the server is not ready, the good model serves). */
    public static class Broken implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Path repo = TestModels.repo("broken");
            TestModels.configAndWeights(repo, "small_c8", "small_c8", Map.of());
            TestModels.broken(repo, "broken");
            return base(repo);
        }
    }

    /** Queue of one, a batching window longer than the timeout: exercises 429 and 504. */
    public static class Overload implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = smallC8("overload", Map.of());
            m.put("freqfusion.queue-capacity", "1");
            m.put("freqfusion.max-queue-delay", "3s");
            m.put("freqfusion.request-timeout", "1500ms");
            m.put("freqfusion.limits.max-body-bytes", "1000000");
            return m;
        }
    }

    /** small_c8, and a short HTTP idle timeout: a client that stops reading a streamed response is cut off. */
    public static class SlowReader implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = smallC8("slow-reader", Map.of());
            m.put("quarkus.http.idle-timeout", "2s");
            return m;
        }
    }

    /** No models-dir: the built-in models. */
    public static class BuiltIn implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = base(null);
            m.put("freqfusion.warmup.duration", "300ms");       // the timed warm-up loop, as served by default
            return m;
        }
    }

    /** small_c8 on the test-only "faulty" backend; recovery probes every 200 ms. */
    public static class Faulty implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = smallC8("faulty", Map.of("backend", "faulty"));
            m.put("freqfusion.recovery.interval", "200ms");
            m.put("freqfusion.max-queue-delay", "0ms");
            return m;
        }
    }

    /** As Faulty, with freqfusion.fallback-backend=cpu. */
    public static class Fallback implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = smallC8("fallback", Map.of("backend", "faulty"));
            m.put("freqfusion.fallback-backend", "cpu");
            m.put("freqfusion.max-queue-delay", "0ms");
            return m;
        }
    }

    /** A 2 s batching window so that requests are still queued when the drain starts. */
    public static class Drain implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = smallC8("drain", Map.of());
            m.put("freqfusion.max-queue-delay", "2s");
            m.put("freqfusion.max-batch-size", "16");
            return m;
        }
    }

    /** Bearer-token authentication on. */
    public static class Auth implements QuarkusTestProfile {
        public static final String TOKEN = "s3cret-t0ken";

        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = smallC8("auth", Map.of());
            m.put("freqfusion.auth.token", TOKEN);
            return m;
        }
    }

    /**
     * Flood: queue capacity 4 and max batch 2 (capacity 6 requests), an admission budget of 96 MiB, requests of
     * 640 KiB each reserving ~30 MiB of working set: the budget, not only the queue, bounds memory.
     */
    public static class Flood implements QuarkusTestProfile {
        public static final long BUDGET = 96L << 20;

        @Override
        public Map<String, String> getConfigOverrides() {
            Map<String, String> m = smallC8("flood", Map.of());
            m.put("freqfusion.queue-capacity", "4");
            m.put("freqfusion.max-batch-size", "2");
            m.put("freqfusion.max-queue-delay", "5ms");
            m.put("freqfusion.limits.max-inflight-bytes", Long.toString(BUDGET));
            m.put("freqfusion.request-timeout", "60s");
            return m;
        }
    }
}
