package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.freqfusion.tensor.SafeTensors;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** freqfusion.fallback-backend=cpu: a batch the failing backend could not run is re-run on the CPU; the model keeps serving there. */
@QuarkusTest
@TestProfile(Profiles.Fallback.class)
class BackendFallbackTest {

    @AfterEach
    void heal() {
        FaultyBackendProvider.FAIL.set(false);
    }

    @Test
    void failingBackendFallsBackToCpu() throws Exception {
        OipTestClient.awaitLoaded("small_c8");
        SafeTensors.Contents c = Golden.read("small_c8");
        String body = OipTestClient.jsonRequest(null, Golden.inputs(c), null).toString();
        assertEquals(200, OipTestClient.postJson("small_c8", body).statusCode());

        int before = FaultyBackendProvider.FAILURES.get();
        FaultyBackendProvider.FAIL.set(true);
        Response r = OipTestClient.postJson("small_c8", body);
        assertEquals(200, r.statusCode(), r.asString());
        OipRestTest.assertGolden("small_c8 on the fallback backend", c, OipTestClient.outputs(r), null);
        int failures = FaultyBackendProvider.FAILURES.get();
        assertTrue(failures > before, "the faulty backend was tried first");
        given().get("/v2/models/small_c8/ready").then().statusCode(200);
        given().get("/v2/health/ready").then().statusCode(200);

        // later requests run on the CPU directly
        for (int i = 0; i < 3; i++) {
            r = OipTestClient.postJson("small_c8", body);
            assertEquals(200, r.statusCode(), r.asString());
        }
        assertEquals(failures, FaultyBackendProvider.FAILURES.get(), "no more forwards on the failed backend");
        String m = given().get("/q/metrics").asString();
        assertTrue(MetricsHealthTest.has(m, "freqfusion_backend_info{", "backend=\"cpu\""), "the fallback backend is reported");
    }
}
