package io.freqfusion.loadtest;

import io.gatling.javaapi.core.ChainBuilder;
import io.gatling.javaapi.core.OpenInjectionStep;
import io.gatling.javaapi.core.ScenarioBuilder;
import io.gatling.javaapi.core.Simulation;
import io.gatling.javaapi.http.HttpProtocolBuilder;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

import static io.gatling.javaapi.core.CoreDsl.*;
import static io.gatling.javaapi.http.HttpDsl.*;

/**
 * OIP v2 REST inference under an open-model load profile (see {@link Profile}). A response must be 200 (or,
 * where the scenario expects overload, 429); anything else, 5xx above all, fails the request, and the run
 * asserts that no request failed. Status codes are counted and written to results/status-counts.txt.
 */
abstract class RestInferSimulation extends Simulation {

    static final Map<Integer, LongAdder> STATUS = new ConcurrentHashMap<>();

    final Workload workload = Workload.fromSystemProperties();
    final Profile profile = Profile.fromSystemProperties(defaultRate(workload));
    final String host = System.getProperty("target.host", "127.0.0.1");
    final int port = Integer.getInteger("target.httpPort", 8080);

    /** Base request rates that this 2-core development machine sustains (override with -Drate). */
    static double defaultRate(Workload w) {
        return switch (w.id()) {
            case "w1" -> 6;
            case "w2" -> 2;
            case "fpn" -> 3;
            default -> 20;
        };
    }

    abstract boolean binary();

    RestInferSimulation() {
        Loopback.require(host);
        System.out.printf("[loadtest] %s %s on %s against http://%s:%d%s: %s%n", getClass().getSimpleName(),
                binary() ? "binary" : "JSON", workload.model(), host, port, workload.inferPath(), profile);

        HttpProtocolBuilder protocol = http.baseUrl("http://" + host + ":" + port)
                .acceptHeader("application/json, application/octet-stream")
                .shareConnections()
                .disableCaching()
                .disableWarmUp();

        var request = http("infer " + workload.id() + (binary() ? " binary" : " json")).post(workload.inferPath());
        if (binary()) {
            byte[] body = workload.binaryBody();
            request = request.header("Content-Type", "application/octet-stream")
                    .header("Inference-Header-Content-Length", String.valueOf(workload.binaryHeaderLength()))
                    .body(ByteArrayBody(body));
        } else {
            String body = workload.jsonBody();
            request = request.header("Content-Type", "application/json").body(StringBody(body));
        }
        request = profile.expectsRejections()
                ? request.check(status().saveAs("status"), status().in(200, 429))
                : request.check(status().saveAs("status"), status().is(200));

        ChainBuilder infer = exec(request).exec(session -> {
            if (session.contains("status")) {
                STATUS.computeIfAbsent(session.getInt("status"), k -> new LongAdder()).increment();
            }
            return session;
        });
        ScenarioBuilder scn = scenario(profile.scenario()).exec(infer);

        List<OpenInjectionStep> steps = new ArrayList<>();
        for (Profile.Phase ph : profile.phases()) {
            steps.add(ph.from() == ph.to()
                    ? constantUsersPerSec(ph.from()).during(Duration.ofSeconds(ph.seconds()))
                    : rampUsersPerSec(ph.from()).to(ph.to()).during(Duration.ofSeconds(ph.seconds())));
        }
        setUp(scn.injectOpen(steps).protocols(protocol))
                .maxDuration(Duration.ofSeconds(profile.durationSeconds() + 90L))
                .assertions(
                        // never a 5xx, a connection error or an unexpected status (429 only where overload is the point)
                        global().failedRequests().count().is(0L),
                        global().allRequests().count().gt(0L));
    }

    @Override
    public void after() {
        StringBuilder sb = new StringBuilder();
        STATUS.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> sb.append(e.getKey()).append(' ').append(e.getValue().sum()).append('\n'));
        System.out.print("[loadtest] HTTP status counts:\n" + sb);
        try {
            Path out = Path.of(System.getProperty("loadtest.results", "results"));
            Files.createDirectories(out);
            Files.writeString(out.resolve("status-counts.txt"), sb.toString());
        } catch (IOException e) {
            System.err.println("[loadtest] cannot write status counts: " + e);
        }
    }
}
