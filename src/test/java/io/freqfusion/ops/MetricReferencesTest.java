package io.freqfusion.ops;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static io.freqfusion.ops.Ops.*;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Offline checks (no renderer, no server) that the dashboard, the alerts and the autoscalers only use metric
 * names from the service's contract, and cover what an operator needs. LiveMetricsScrapeTest then checks the
 * same names against a real /q/metrics scrape.
 */
class MetricReferencesTest {

    /** Standard Quarkus Micrometer metrics the dashboard uses beside the service's own. */
    static final Set<String> STANDARD = Set.of("http_server_requests_seconds_count", "jvm_memory_used_bytes", "process_cpu_usage");

    @Test
    void promqlMetricNameExtraction() {
        assertEquals(Set.of("freqfusion_request_duration_seconds_bucket"), metricNames(
                "histogram_quantile(0.99, sum by (model, le) (rate(freqfusion_request_duration_seconds_bucket{namespace=~\"$namespace\", outcome=\"ok\"}[$__rate_interval])))"));
        assertEquals(Set.of("freqfusion_queue_depth", "freqfusion_queue_capacity"),
                metricNames("max by (namespace, pod, model) (freqfusion_queue_depth / freqfusion_queue_capacity) > 0.8"));
        assertEquals(Set.of("freqfusion_requests_total"), metricNames(
                "(sum by (namespace, model) (rate(freqfusion_requests_total{outcome=~\"error|timeout\"}[5m])) / sum(rate(freqfusion_requests_total[5m])) by (model)) > 0.05 and on (model) sum(rate(freqfusion_requests_total[5m])) > 0.1"));
        assertEquals(Set.of("up"), metricNames("up{job=\"freqfusion-serve\"} == 0"));
        assertEquals(Set.of("freqfusion_queue_depth"), metricNames("sum by (<<.GroupBy>>) (freqfusion_queue_depth{<<.LabelMatchers>>})"));
    }

    @Test
    void everyReferencedMetricIsInTheContract() {
        Set<String> names = referencedMetricNames();
        List<String> unknown = new ArrayList<>();
        for (String n : names) {
            if (n.startsWith("freqfusion_") ? !inContract(n) : !(STANDARD.contains(n) || EXTERNAL_METRICS.contains(n))) {
                unknown.add(n);
            }
            assertFalse(n.contains(":"), "recorded series must not be referenced before it is defined: " + n);
        }
        assertTrue(unknown.isEmpty(), "metric names outside the service's contract: " + unknown + " (all: " + names + ")");
    }

    @Test
    void dashboardShowsWhatAnOperatorNeeds() {
        JsonNode dash = readJson(k8s("dashboards/freqfusion-serve.json"));
        assertEquals("freqfusion-serve", dash.path("uid").asText());
        Set<String> names = new TreeSet<>();
        dashboardExpressions(dash).forEach(e -> names.addAll(metricNames(e)));
        // throughput, latency percentiles, queue depth, batch sizes, per-stage compute, errors, device
        for (String required : List.of("freqfusion_requests_total", "freqfusion_request_duration_seconds_bucket",
                "freqfusion_queue_depth", "freqfusion_queue_capacity", "freqfusion_batch_size_bucket",
                "freqfusion_batch_size_sum", "freqfusion_stage_duration_seconds_sum", "freqfusion_stage_duration_seconds_bucket",
                "freqfusion_backend_info", "freqfusion_queue_wait_seconds_bucket", "freqfusion_model_ready")) {
            assertTrue(names.contains(required), "dashboard uses " + required);
        }
        List<String> exprs = dashboardExpressions(dash);
        assertTrue(exprs.stream().anyMatch(e -> e.contains("histogram_quantile(0.99")), "p99 via histogram_quantile");
        assertTrue(exprs.stream().anyMatch(e -> e.contains("histogram_quantile(0.5")), "p50 via histogram_quantile");
        assertTrue(exprs.stream().anyMatch(e -> e.contains("outcome=~\"error|timeout\"")), "error rate");
        Set<Integer> ids = new TreeSet<>();
        for (JsonNode p : dash.path("panels")) {
            assertTrue(ids.add(p.path("id").asInt()), "unique panel id " + p.path("id"));
            for (JsonNode t : p.path("targets")) {
                assertEquals("${datasource}", t.at("/datasource/uid").asText(), "panel " + p.path("title") + " uses the datasource variable");
            }
        }
    }

    @Test
    void alertsCoverErrorsLatencySaturationAndReadiness() {
        JsonNode rule = readYaml(k8s("base/prometheusrule.yaml"));
        List<String> alerts = new ArrayList<>();
        for (JsonNode g : rule.at("/spec/groups")) {
            for (JsonNode r : g.path("rules")) {
                if (r.has("alert")) {
                    alerts.add(r.path("alert").asText());
                    assertFalse(r.path("labels").path("severity").asText().isEmpty(), r.path("alert") + " has a severity");
                    assertFalse(r.path("annotations").path("summary").asText().isEmpty(), r.path("alert") + " has a summary");
                    assertFalse(r.path("for").asText().isEmpty(), r.path("alert") + " has a for: duration");
                }
            }
        }
        assertTrue(alerts.containsAll(List.of("FreqFusionHighErrorRate", "FreqFusionHighP99Latency",
                "FreqFusionQueueSaturated", "FreqFusionModelNotReady", "FreqFusionPodNotReady")), "alerts: " + alerts);
        String saturation = ruleExpressions(rule).stream().filter(e -> e.contains("freqfusion_queue_capacity")).findFirst().orElse("");
        assertTrue(saturation.contains("freqfusion_queue_depth / freqfusion_queue_capacity"), "saturation = depth / capacity");
        assertTrue(ruleExpressions(rule).stream().anyMatch(e -> e.contains("histogram_quantile(0.99")), "p99 alert");
    }

    @Test
    void queueDepthHpaHasAnAdapterRule() {
        List<JsonNode> hpas = hpaSources();
        assertEquals(Set.of(), hpaSeries(List.of(hpas.get(0))), "base HPA: CPU only");
        assertEquals(Set.of("freqfusion_queue_depth"), hpaSeries(List.of(hpas.get(1))), "variant: queue depth via prometheus-adapter");
    }
}
