package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.freqfusion.tensor.SafeTensors;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** A model that fails to load is UNAVAILABLE with its reason; the server (strict readiness) is not ready; the others serve. */
@QuarkusTest
@TestProfile(Profiles.Broken.class)
class BrokenModelTest {

    @Test
    void brokenModelIsUnavailableOthersServe() throws Exception {
        OipTestClient.awaitLoaded("small_c8", "broken");
        given().get("/v2/models/broken").then().statusCode(200)
                .body("state", equalTo("UNAVAILABLE")).body("reason", containsString("weights.safetensors"))
                .body("reason", containsString("outside the data section"));
        given().get("/v2/models/broken/ready").then().statusCode(400).body("ready", equalTo(false));
        given().get("/v2/health/ready").then().statusCode(400).body("ready", equalTo(false));
        given().get("/q/health/ready").then().statusCode(503).body("status", equalTo("DOWN"))
                .body("checks.find { it.name == 'freqfusion-models' }.data.broken", containsString("UNAVAILABLE"));
        given().get("/v2/health/live").then().statusCode(200);
        Response r = OipTestClient.postJson("broken", "{\"inputs\":[]}");
        assertEquals(503, r.statusCode(), r.asString());
        r.then().body("error", containsString("UNAVAILABLE"));
        String metrics = given().get("/q/metrics").asString();
        assert MetricsHealthTest.has(metrics, "freqfusion_model_state{", "model=\"broken\"", "state=\"UNAVAILABLE\"", "} 1.0");
        assert MetricsHealthTest.has(metrics, "freqfusion_model_ready{", "model=\"broken\"", "} 0.0");

        SafeTensors.Contents c = Golden.read("small_c8");
        r = OipTestClient.postJson("small_c8", OipTestClient.jsonRequest(null, Golden.inputs(c), null).toString());
        assertEquals(200, r.statusCode(), r.asString());
        OipRestTest.assertGolden("small_c8 beside a broken model", c, OipTestClient.outputs(r), null);
    }
}
