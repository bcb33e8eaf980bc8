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
        m.put("freqfusion.cpu.threads", "2");
        return m;
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
            Path repo = TestModels.repo("batching");
            TestModels.configAndWeights(repo, "small_c8", "small_c8", Map.of());
            Map<String, String> m = base(repo);
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
            Path repo = TestModels.repo("overload");
            TestModels.configAndWeights(repo, "small_c8", "small_c8", Map.of());
            Map<String, String> m = base(repo);
            m.put("freqfusion.queue-capacity", "1");
            m.put("freqfusion.max-queue-delay", "3s");
            m.put("freqfusion.request-timeout", "1500ms");
            m.put("freqfusion.limits.max-body-bytes", "1000000");
            return m;
        }
    }

    /** No models-dir: the built-in models. */
    public static class BuiltIn implements QuarkusTestProfile {
        @Override
        public Map<String, String> getConfigOverrides() {
            return base(null);
        }
    }
}
