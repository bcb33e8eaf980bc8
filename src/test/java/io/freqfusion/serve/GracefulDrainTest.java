package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.freqfusion.serve.repository.ModelRepository;
import io.freqfusion.tensor.SafeTensors;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Graceful shutdown: requests admitted before the drain (here still waiting in a 400 ms batching window) complete
 * with correct results; requests arriving during/after it get 503 (Retry-After); readiness goes down. This calls the
 * path the ShutdownEvent observer takes (ModelRepository.drain) directly.
 */
@QuarkusTest
@TestProfile(Profiles.Drain.class)
class GracefulDrainTest {
    @Inject
    ModelRepository repository;

    @Test
    void drainCompletesAdmittedRequests() throws Exception {
        OipTestClient.awaitLoaded("small_c8");
        SafeTensors.Contents c = Golden.read("small_c8");
        String body = OipTestClient.jsonRequest(null, Golden.inputs(c), null).toString();
        List<CompletableFuture<Response>> inFlight = new ArrayList<>();
        var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
        for (int i = 0; i < 4; i++) inFlight.add(CompletableFuture.supplyAsync(() -> OipTestClient.postJson("small_c8", body), pool));
        OipTestClient.await("requests admitted", 5000, () -> repository.get("small_c8").batcher().inflight() >= 4);
        long t0 = System.nanoTime();
        repository.drain(Duration.ofSeconds(10));
        assertTrue(System.nanoTime() - t0 < 5_000_000_000L, "queued requests run at once when the drain starts");
        pool.shutdown();
        for (CompletableFuture<Response> f : inFlight) {
            Response r = f.get();
            assertEquals(200, r.statusCode(), r.asString());
            OipRestTest.assertGolden("drained request", c, OipTestClient.outputs(r), null);
        }
        Response late = OipTestClient.postJson("small_c8", body);
        assertEquals(503, late.statusCode(), late.asString());
        assertTrue(late.<String>path("error").contains("shutting down"), late.asString());
        given().get("/v2/health/ready").then().statusCode(400);
        repository.drain(Duration.ofSeconds(1)); // idempotent (the ShutdownEvent calls it again)
    }
}
