package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.serve.repository.ModelRepository;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CompletableFuture;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Queue capacity 1 and a 3 s batching window with a 1.5 s request timeout: a second request while the first waits is
 * rejected at once (429, Retry-After); the first times out (504). Bodies over the limit get 413.
 */
@QuarkusTest
@TestProfile(Profiles.Overload.class)
class OverloadTest {
    @Inject
    ModelRepository repository;

    @Test
    void fullQueueRejectsAndTimeoutAnswers504() throws Exception {
        OipTestClient.awaitLoaded("small_c8");
        SafeTensors.Contents c = Golden.read("small_c8");
        String body = OipTestClient.jsonRequest(null, Golden.inputs(c), null).toString();
        CompletableFuture<Response> first = CompletableFuture.supplyAsync(() -> OipTestClient.postJson("small_c8", body));
        // the first waits out its batching window
        OipTestClient.await("the first request queued", 10_000, () -> repository.get("small_c8").batcher().queueDepth() >= 1);
        long t0 = System.nanoTime();
        Response second = OipTestClient.postJson("small_c8", body);
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(429, second.statusCode(), second.asString());
        assertNotNull(second.getHeader("Retry-After"));
        assertTrue(second.<String>path("error").contains("queue full"), second.asString());
        assertTrue(ms < 1000, "rejection must be immediate, took " + ms + " ms");
        Response r1 = first.get();
        assertEquals(504, r1.statusCode(), r1.asString());
        assertTrue(r1.<String>path("error").contains("timed out"));
        String m = given().get("/q/metrics").asString();
        assertTrue(MetricsHealthTest.has(m, "freqfusion_requests_total{", "model=\"small_c8\"", "outcome=\"rejected\""));
        assertTrue(MetricsHealthTest.has(m, "freqfusion_requests_total{", "model=\"small_c8\"", "outcome=\"timeout\""));
    }

    @Test
    void bodyOverTheLimitIs413() {
        byte[] big = new byte[1_200_000];
        java.util.Arrays.fill(big, (byte) ' ');
        Response r = given().contentType("application/json").body(big).post("/v2/models/small_c8/infer");
        assertEquals(413, r.statusCode());
        assertTrue(r.contentType().startsWith("application/json"), r.contentType());
        assertTrue(r.<String>path("error").contains("exceeds the limit of 1000000 bytes"), r.asString());
        assertNotNull(r.getHeader("X-Request-Id"));
    }
}
