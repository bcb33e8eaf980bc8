package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.freqfusion.tensor.SafeTensors;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A failing backend (the test-only "faulty" backend throwing as a lost device would): the affected request gets 503
 * with Retry-After, the model turns UNAVAILABLE and readiness goes down; once the device works again a recovery probe
 * re-prepares the model and it serves golden-correct results again.
 */
@QuarkusTest
@TestProfile(Profiles.Faulty.class)
class BackendFaultTest {

    @AfterEach
    void heal() {
        FaultyBackendProvider.FAIL.set(false);
    }

    static void awaitReady(String model, boolean ready, long millis) throws InterruptedException {
        OipTestClient.await(model + " " + (ready ? "ready" : "unready"), millis,
                () -> given().get("/v2/models/" + model + "/ready").statusCode() == (ready ? 200 : 400));
    }

    @Test
    void failingBackendAnswers503TakesReadinessDownAndRecovers() throws Exception {
        OipTestClient.awaitLoaded("small_c8");
        SafeTensors.Contents c = Golden.read("small_c8");
        String body = OipTestClient.jsonRequest(null, Golden.inputs(c), null).toString();
        assertEquals(200, OipTestClient.postJson("small_c8", body).statusCode());
        given().get("/v2/health/ready").then().statusCode(200);

        FaultyBackendProvider.FAIL.set(true);
        Response r = OipTestClient.postJson("small_c8", body);
        assertEquals(503, r.statusCode(), r.asString());
        assertNotNull(r.getHeader("Retry-After"));
        assertTrue(r.<String>path("error").contains("backend failure"), r.asString());
        assertTrue(FaultyBackendProvider.FAILURES.get() > 0);

        given().get("/v2/health/ready").then().statusCode(400).body("ready", equalTo(false));
        given().get("/q/health/ready").then().statusCode(503);
        given().get("/v2/models/small_c8").then().statusCode(200).body("state", equalTo("UNAVAILABLE"))
                .body("reason", containsString("simulated device error"));
        r = OipTestClient.postJson("small_c8", body);
        assertEquals(503, r.statusCode(), r.asString()); // not served while UNAVAILABLE (and never a 500)
        given().get("/v2/health/live").then().statusCode(200); // alive: Kubernetes must not restart it for this

        Thread.sleep(600); // probes keep failing while the device is broken
        given().get("/v2/models/small_c8/ready").then().statusCode(400);

        FaultyBackendProvider.FAIL.set(false);
        awaitReady("small_c8", true, 10_000);
        given().get("/v2/health/ready").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(200);
        r = OipTestClient.postJson("small_c8", body);
        assertEquals(200, r.statusCode(), r.asString());
        OipRestTest.assertGolden("small_c8 after recovery", c, OipTestClient.outputs(r), null);
        String m = given().get("/q/metrics").asString();
        assertTrue(MetricsHealthTest.has(m, "freqfusion_requests_total{", "model=\"small_c8\"", "outcome=\"rejected\""), "503s counted as rejected");
    }
}
