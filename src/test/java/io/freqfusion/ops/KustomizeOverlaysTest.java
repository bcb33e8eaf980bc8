package io.freqfusion.ops;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

import static io.freqfusion.ops.Ops.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Renders k8s/overlays/cpu and k8s/overlays/gpu with kustomize (offline) and checks that the objects agree
 * with each other and with the application: ports, probe paths and the metrics path come from
 * src/main/resources/application.properties overlaid by the ConfigMap's application.properties.
 * Skipped with a message when neither kubectl nor kustomize is installed (see k8s/tools/install-kustomize.sh).
 */
class KustomizeOverlaysTest {

    static final List<String> OVERLAYS = List.of("overlays/cpu", "overlays/gpu");

    static JsonNode deployment(List<JsonNode> docs) {
        return one(docs, "Deployment", "freqfusion-serve");
    }

    static JsonNode container(List<JsonNode> docs) {
        JsonNode containers = deployment(docs).at("/spec/template/spec/containers");
        assertEquals(1, containers.size(), "one container");
        return containers.get(0);
    }

    /** The application configuration as the pod sees it: jar defaults overlaid by the mounted ConfigMap. */
    static Properties effectiveConfig(List<JsonNode> docs) {
        JsonNode cm = one(docs, "ConfigMap", "freqfusion-serve-config");
        String props = cm.at("/data/application.properties").asText(null);
        assertNotNull(props, "ConfigMap freqfusion-serve-config has no application.properties");
        return appConfig(props);
    }

    static Map<String, String> containerEnv(List<JsonNode> docs) {
        Map<String, String> env = new HashMap<>();
        JsonNode c = container(docs);
        for (JsonNode ref : c.path("envFrom")) {
            String name = ref.at("/configMapRef/name").asText();
            JsonNode cm = ofKind(docs, "ConfigMap").stream()
                    .filter(m -> m.at("/metadata/name").asText().equals(name)).findFirst()
                    .orElseThrow(() -> new AssertionError("envFrom references missing ConfigMap " + name));
            env.putAll(stringMap(cm.path("data")));
        }
        for (JsonNode e : c.path("env")) {
            if (e.has("value")) {
                env.put(e.get("name").asText(), e.get("value").asText());
            }
        }
        return env;
    }

    @ParameterizedTest
    @ValueSource(strings = {"overlays/cpu", "overlays/gpu"})
    void rendersTheExpectedObjects(String overlay) {
        List<JsonNode> docs = render(overlay);
        for (String kind : List.of("Namespace", "ServiceAccount", "Deployment", "Service", "HorizontalPodAutoscaler",
                "PodDisruptionBudget", "ServiceMonitor", "PrometheusRule")) {
            assertEquals(1, ofKind(docs, kind).size(), overlay + ": one " + kind);
        }
        assertEquals(3, ofKind(docs, "ConfigMap").size(), overlay + ": config, env and dashboard ConfigMaps");
        String ns = one(docs, "Namespace", "freqfusion").at("/metadata/name").asText();
        for (JsonNode d : docs) {
            if (!"Namespace".equals(d.path("kind").asText())) {
                assertEquals(ns, d.at("/metadata/namespace").asText(), overlay + ": namespace of " + d.at("/metadata/name"));
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"overlays/cpu", "overlays/gpu"})
    void portsMatchTheApplicationConfiguration(String overlay) {
        List<JsonNode> docs = render(overlay);
        Properties cfg = effectiveConfig(docs);
        Map<String, Integer> containerPorts = new HashMap<>();
        for (JsonNode p : container(docs).path("ports")) {
            containerPorts.put(p.path("name").asText(), p.path("containerPort").asInt());
        }
        assertEquals(httpPort(cfg), containerPorts.get("http"), overlay + ": container port http vs quarkus.http.port");
        assertEquals(grpcPort(cfg), containerPorts.get("grpc"), overlay + ": container port grpc vs quarkus.grpc.server.port");
        // The jar's defaults must agree too, so that the image behaves the same without the ConfigMap.
        Properties jar = appConfig(null);
        assertEquals(httpPort(jar), httpPort(cfg), "ConfigMap and src/main/resources disagree on the HTTP port");
        assertEquals(grpcPort(jar), grpcPort(cfg), "ConfigMap and src/main/resources disagree on the gRPC port");

        JsonNode svc = one(docs, "Service", "freqfusion-serve");
        Set<String> names = new HashSet<>();
        for (JsonNode p : svc.at("/spec/ports")) {
            String name = p.path("name").asText();
            names.add(name);
            JsonNode target = p.path("targetPort");
            int resolved = target.isInt() ? target.asInt() : containerPorts.getOrDefault(target.asText(), -1);
            assertEquals(containerPorts.get(name), resolved, overlay + ": Service port " + name + " targets the container port of the same name");
        }
        assertEquals(Set.of("http", "grpc"), names, overlay + ": Service ports named http and grpc");

        JsonNode ann = deployment(docs).at("/spec/template/metadata/annotations");
        assertEquals(String.valueOf(httpPort(cfg)), ann.path("prometheus.io/port").asText());
        assertEquals(metricsPath(cfg), ann.path("prometheus.io/path").asText());
    }

    @ParameterizedTest
    @ValueSource(strings = {"overlays/cpu", "overlays/gpu"})
    void probesUseTheHealthEndpoints(String overlay) {
        List<JsonNode> docs = render(overlay);
        Properties cfg = effectiveConfig(docs);
        JsonNode c = container(docs);
        Map<String, String> expected = Map.of("livenessProbe", healthPath(cfg, "live"),
                "readinessProbe", healthPath(cfg, "ready"), "startupProbe", healthPath(cfg, "started"));
        expected.forEach((probe, path) -> {
            JsonNode get = c.path(probe).path("httpGet");
            assertEquals(path, get.path("path").asText(), overlay + ": " + probe + " path");
            assertEquals("http", get.path("port").asText(), overlay + ": " + probe + " port");
        });
        assertTrue(c.at("/startupProbe/failureThreshold").asInt() * c.at("/startupProbe/periodSeconds").asInt() >= 120,
                overlay + ": start-up allowance of at least two minutes (model load + warm-up)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"overlays/cpu", "overlays/gpu"})
    void podIsHardenedAndBounded(String overlay) {
        List<JsonNode> docs = render(overlay);
        JsonNode pod = deployment(docs).at("/spec/template/spec");
        JsonNode c = container(docs);
        assertTrue(pod.at("/securityContext/runAsNonRoot").asBoolean(), "pod runAsNonRoot");
        assertTrue(c.at("/securityContext/runAsNonRoot").asBoolean(), "container runAsNonRoot");
        assertTrue(c.at("/securityContext/readOnlyRootFilesystem").asBoolean(), "readOnlyRootFilesystem");
        assertFalse(c.at("/securityContext/allowPrivilegeEscalation").asBoolean(true), "no privilege escalation");
        assertTrue(pod.at("/securityContext/runAsUser").asInt() > 0, "non-zero uid");

        String tmpVolume = null;
        for (JsonNode m : c.path("volumeMounts")) {
            if ("/tmp".equals(m.path("mountPath").asText())) {
                tmpVolume = m.path("name").asText();
            }
        }
        assertNotNull(tmpVolume, "/tmp is mounted (read-only root filesystem)");
        String tmp = tmpVolume;
        assertTrue(stream(pod.path("volumes"))
                .anyMatch(v -> v.path("name").asText().equals(tmp) && v.has("emptyDir")), "/tmp is an emptyDir");
        JsonNode models = stream(pod.path("volumes")).filter(v -> "models".equals(v.path("name").asText()))
                .findFirst().orElseThrow(() -> new AssertionError("models volume"));
        assertNotNull(models);

        for (String kind : List.of("requests", "limits")) {
            for (String res : List.of("cpu", "memory")) {
                assertFalse(c.at("/resources/" + kind + "/" + res).asText().isEmpty(), overlay + ": resources." + kind + "." + res);
            }
        }

        // Graceful termination: preStop sleep + Quarkus shutdown timeout fit within the grace period.
        int grace = pod.path("terminationGracePeriodSeconds").asInt(30);
        JsonNode cmd = c.at("/lifecycle/preStop/exec/command");
        assertTrue(cmd.isArray() && cmd.size() == 2 && cmd.get(0).asText().endsWith("sleep"), "preStop sleeps");
        int preStop = cmd.get(1).asInt();
        Properties cfg = effectiveConfig(docs);
        String shutdown = cfg.getProperty("quarkus.shutdown.timeout");
        assertNotNull(shutdown, "quarkus.shutdown.timeout set: in-flight requests are drained on SIGTERM");
        long shutdownS = Duration.parse("PT" + shutdown.trim().toUpperCase()).toSeconds();
        assertTrue(preStop + shutdownS < grace, "preStop " + preStop + " s + shutdown " + shutdownS + " s < grace " + grace + " s");

        // The config volume is mounted where Quarkus reads config/application.properties (working dir /deployments).
        assertTrue(stream(c.path("volumeMounts")).anyMatch(m -> "/deployments/config".equals(m.path("mountPath").asText())),
                "ConfigMap mounted at /deployments/config (Dockerfile.jvm WORKDIR)");
    }

    @ParameterizedTest
    @ValueSource(strings = {"overlays/cpu", "overlays/gpu"})
    void selectorsAndReferencesAgree(String overlay) {
        List<JsonNode> docs = render(overlay);
        JsonNode dep = deployment(docs);
        Map<String, String> podLabels = stringMap(dep.at("/spec/template/metadata/labels"));
        assertSubset(stringMap(dep.at("/spec/selector/matchLabels")), podLabels, "Deployment selector");
        JsonNode svc = one(docs, "Service", "freqfusion-serve");
        assertSubset(stringMap(svc.at("/spec/selector")), podLabels, "Service selector");
        assertSubset(stringMap(one(docs, "PodDisruptionBudget", "freqfusion-serve").at("/spec/selector/matchLabels")), podLabels, "PDB selector");
        JsonNode sm = one(docs, "ServiceMonitor", "freqfusion-serve");
        assertSubset(stringMap(sm.at("/spec/selector/matchLabels")), stringMap(svc.at("/metadata/labels")), "ServiceMonitor selector");
        JsonNode endpoint = sm.at("/spec/endpoints/0");
        assertEquals("http", endpoint.path("port").asText(), "ServiceMonitor scrapes the Service port named http");
        assertEquals(metricsPath(effectiveConfig(docs)), endpoint.path("path").asText(), "ServiceMonitor path = /q/metrics");

        JsonNode hpa = one(docs, "HorizontalPodAutoscaler", "freqfusion-serve");
        assertEquals("Deployment", hpa.at("/spec/scaleTargetRef/kind").asText());
        assertEquals(dep.at("/metadata/name").asText(), hpa.at("/spec/scaleTargetRef/name").asText());
        assertTrue(hpa.at("/spec/minReplicas").asInt() <= hpa.at("/spec/maxReplicas").asInt());

        String sa = dep.at("/spec/template/spec/serviceAccountName").asText();
        one(docs, "ServiceAccount", sa);
        for (JsonNode v : dep.at("/spec/template/spec/volumes")) {
            if (v.has("configMap")) {
                String name = v.at("/configMap/name").asText();
                assertTrue(ofKind(docs, "ConfigMap").stream().anyMatch(m -> m.at("/metadata/name").asText().equals(name)),
                        "volume " + v.path("name").asText() + " references ConfigMap " + name + " that is rendered");
            }
        }
        // Every PromQL expression in the rendered PrometheusRule parses into known metric names.
        for (String e : ruleExpressions(one(docs, "PrometheusRule", "freqfusion-serve"))) {
            assertFalse(metricNames(e).isEmpty(), "expression selects a metric: " + e);
        }
    }

    @Test
    void cpuOverlayRunsTheCpuBackendWithoutGpu() {
        List<JsonNode> docs = render("overlays/cpu");
        JsonNode c = container(docs);
        assertEquals("cpu", containerEnv(docs).get("FREQFUSION_BACKEND"));
        assertTrue(c.path("image").asText().matches("freqfusion-serve(:.*)?"), "image " + c.path("image"));
        assertTrue(c.at("/resources/limits/nvidia.com~1gpu").isMissingNode(), "no GPU on the cpu overlay");
        assertEquals("Resource", one(docs, "HorizontalPodAutoscaler", "freqfusion-serve").at("/spec/metrics/0/type").asText(),
                "cpu overlay scales on CPU utilisation");
    }

    @Test
    void gpuOverlayRunsTornadoOnOneNvidiaGpu() {
        List<JsonNode> docs = render("overlays/gpu");
        JsonNode c = container(docs);
        JsonNode pod = deployment(docs).at("/spec/template/spec");
        assertEquals("tornado", containerEnv(docs).get("FREQFUSION_BACKEND"));
        assertTrue(c.path("image").asText().startsWith("freqfusion-serve-tornado"), "TornadoVM image: " + c.path("image"));
        assertEquals("1", c.at("/resources/limits/nvidia.com~1gpu").asText(), "nvidia.com/gpu limit");
        assertFalse(pod.path("nodeSelector").isEmpty(), "GPU node selector");
        assertTrue(stream(pod.path("tolerations")).anyMatch(t -> "nvidia.com/gpu".equals(t.path("key").asText())),
                "tolerates the nvidia.com/gpu taint");
        Set<String> series = hpaSeries(docs);
        assertEquals(Set.of("freqfusion_queue_depth"), series, "gpu overlay scales on queue depth (prometheus-adapter)");
    }

    @Test
    void dashboardConfigMapIsGeneratedFromTheJsonFile() throws IOException {
        String json = Files.readString(k8s("dashboards/freqfusion-serve.json"));
        for (String overlay : OVERLAYS) {
            JsonNode cm = one(render(overlay), "ConfigMap", "freqfusion-serve-dashboard");
            assertEquals("1", cm.at("/metadata/labels/grafana_dashboard").asText(), "grafana_dashboard label");
            assertEquals(json, cm.at("/data/freqfusion-serve.json").asText(), overlay + ": ConfigMap content = k8s/dashboards/freqfusion-serve.json");
        }
    }

    @Test
    void bothHpaVariantsAgreeWithTheSources() {
        // The queue-depth variant as rendered equals what the live metrics test reads from the sources.
        List<JsonNode> gpu = render("overlays/gpu");
        assertEquals(hpaSources().get(1).at("/spec/metrics"), one(gpu, "HorizontalPodAutoscaler", "freqfusion-serve").at("/spec/metrics"));
        List<JsonNode> cpu = render("overlays/cpu");
        assertEquals(hpaSources().get(0).at("/spec/metrics"), one(cpu, "HorizontalPodAutoscaler", "freqfusion-serve").at("/spec/metrics"));
    }
}
