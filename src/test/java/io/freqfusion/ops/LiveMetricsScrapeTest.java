package io.freqfusion.ops;

import com.fasterxml.jackson.databind.JsonNode;
import io.quarkus.test.junit.QuarkusTest;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.freqfusion.ops.Ops.*;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Runs the app, sends an inference to the small built-in model (and one bad request), scrapes /q/metrics and
 * checks that every metric name used by the Grafana dashboard, the PrometheusRule and both HPA variants (through
 * the prometheus-adapter rules) is exported, and that the probe paths of k8s/base/deployment.yaml answer 200.
 */
@QuarkusTest
class LiveMetricsScrapeTest {

    static String smallInferJson() {
        StringBuilder sb = new StringBuilder("{\"id\":\"ops-scrape\",\"inputs\":[");
        sb.append(tensor("hr_feat", 8, 8)).append(',').append(tensor("lr_feat", 8, 4)).append("]}");
        return sb.toString();
    }

    static String tensor(String name, int c, int hw) {
        StringBuilder sb = new StringBuilder("{\"name\":\"").append(name).append("\",\"shape\":[1,").append(c).append(',')
                .append(hw).append(',').append(hw).append("],\"datatype\":\"FP32\",\"data\":[");
        int n = c * hw * hw;
        for (int i = 0; i < n; i++) {
            sb.append(i > 0 ? "," : "").append(((i * 37) % 101) / 50.0 - 1.0);
        }
        return sb.append("]}").toString();
    }

    /** Models load in the background: wait for readiness (as the Kubernetes readiness probe does). */
    static void awaitReady() {
        long deadline = System.nanoTime() + 180_000_000_000L;
        while (given().when().get("/q/health/ready").statusCode() != 200) {
            assertTrue(System.nanoTime() < deadline, "service not ready within 180 s");
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }

    @Test
    void everyMetricUsedByDashboardsAlertsAndHpaIsExported() {
        awaitReady();
        given().contentType("application/json").body(smallInferJson())
                .when().post("/v2/models/freqfusion-small/infer")
                .then().statusCode(200);
        // a client error too (wrong channel count), so the outcome label has more than one value
        given().contentType("application/json").body(smallInferJson().replace("[1,8,8,8]", "[1,8,8,7]"))
                .when().post("/v2/models/freqfusion-small/infer")
                .then().statusCode(org.hamcrest.Matchers.greaterThanOrEqualTo(400));

        String scrape = given().when().get("/q/metrics").then().statusCode(200).extract().asString();
        Set<String> exported = new TreeSet<>();
        Matcher m = Pattern.compile("(?m)^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{|\\s)").matcher(scrape);
        while (m.find()) {
            exported.add(m.group(1));
        }

        Set<String> referenced = referencedMetricNames();
        assertFalse(referenced.isEmpty());
        List<String> missing = new ArrayList<>();
        for (String name : referenced) {
            if (!EXTERNAL_METRICS.contains(name) && !exported.contains(name)) {
                missing.add(name);
            }
        }
        assertTrue(missing.isEmpty(), "referenced by k8s/ but not in /q/metrics: " + missing
                + "\nexported freqfusion_*: " + exported.stream().filter(n -> n.startsWith("freqfusion_")).toList());

        // labels the dashboard and alerts group by exist on the series
        assertTrue(scrape.contains("freqfusion_requests_total{") && scrape.matches("(?s).*freqfusion_requests_total\\{[^}]*outcome=\"ok\".*"),
                "freqfusion_requests_total has an outcome label");
        assertTrue(scrape.matches("(?s).*freqfusion_stage_duration_seconds_bucket\\{[^}]*stage=\"[a-z_]+\".*"), "stage label");
        assertTrue(scrape.matches("(?s).*freqfusion_requests_total\\{[^}]*protocol=\"rest\".*"), "protocol label");
        assertTrue(scrape.matches("(?s).*freqfusion_backend_info\\{[^}]*backend=\"cpu\".*"), "backend label");
    }

    @Test
    void probePathsOfTheDeploymentAnswer() {
        awaitReady();
        JsonNode dep = readYaml(k8s("base/deployment.yaml"));
        JsonNode c = dep.at("/spec/template/spec/containers/0");
        for (String probe : List.of("startupProbe", "livenessProbe", "readinessProbe")) {
            String path = c.path(probe).at("/httpGet/path").asText();
            assertFalse(path.isEmpty(), probe);
            given().when().get(path).then().statusCode(200);
        }
        String metricsPath = readYaml(k8s("base/servicemonitor.yaml")).at("/spec/endpoints/0/path").asText();
        given().when().get(metricsPath).then().statusCode(200);
    }
}
