package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** /q/metrics carries every documented metric with its tags; /q/health agrees with /v2/health. */
@QuarkusTest
@TestProfile(Profiles.Golden.class)
class MetricsHealthTest {

    @BeforeEach
    void loaded() {
        OipTestClient.awaitLoaded(OipRestTest.MODELS);
    }

    @Test
    void health() {
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/q/health/ready").then().statusCode(200).body("status", equalTo("UP"))
                .body("checks.find { it.name == 'freqfusion-models' }.data.small_c8", equalTo("READY"));
        given().get("/v2/health/ready").then().statusCode(200);
    }

    @Test
    void metrics() throws IOException {
        var c = Golden.read("opt_feature_resample");
        assertEquals(200, OipTestClient.postJson("opt_feature_resample", OipTestClient.jsonRequest(null, Golden.inputs(c), null).toString()).statusCode());
        Object[] req = OipTestClient.binaryRequest(Golden.inputs(c), "FP32", true);
        assertEquals(200, OipTestClient.postBinary("opt_feature_resample", (Integer) req[0], (byte[]) req[1]).statusCode());
        assertEquals(400, OipTestClient.postJson("opt_feature_resample", "{").statusCode());
        assertEquals(404, OipTestClient.postJson("no-such-model", "{}").statusCode());
        String m = given().get("/q/metrics").then().statusCode(200).extract().asString();
        String model = "model=\"opt_feature_resample\"";
        String[] expected = {
            "freqfusion_request_duration_seconds_bucket{",
            "freqfusion_requests_total{",
            "freqfusion_queue_wait_seconds_bucket{",
            "freqfusion_queue_wait_seconds_count{",
            "freqfusion_stage_duration_seconds_bucket{",
            "freqfusion_batch_size_bucket{",
            "freqfusion_queue_depth{",
            "freqfusion_inflight_requests{",
            "freqfusion_request_bytes_total{",
            "freqfusion_response_bytes_total{",
            "freqfusion_backend_info{",
            "freqfusion_model_load_seconds{",
            "freqfusion_model_ready{",
            "freqfusion_model_state{",
            "freqfusion_queue_capacity{",
        };
        for (String e : expected) assertTrue(m.contains(e), "metrics lack " + e);
        assertTrue(has(m, "freqfusion_requests_total{", model, "outcome=\"ok\"", "protocol=\"rest\""), "ok requests");
        assertTrue(has(m, "freqfusion_requests_total{", model, "outcome=\"client_error\""), "client errors");
        assertTrue(has(m, "freqfusion_requests_total{", "model=\"_unknown\"", "outcome=\"client_error\""), "unknown model folded");
        for (String stage : new String[] {"compressors", "encoders", "kernel_normalisation", "reassembly", "resampler"}) {
            assertTrue(has(m, "freqfusion_stage_duration_seconds_count{", model, "stage=\"" + stage + "\""), "stage " + stage);
        }
        assertTrue(has(m, "freqfusion_batch_size_bucket{", model, "le=\"1.0\""), "batch bucket 1");
        assertTrue(has(m, "freqfusion_batch_size_bucket{", model, "le=\"32.0\""), "batch bucket 32");
        assertTrue(has(m, "freqfusion_model_state{", model, "state=\"READY\"", "} 1.0"), "state READY");
        assertTrue(has(m, "freqfusion_model_ready{", model, "} 1.0"), "ready gauge");
        assertTrue(has(m, "freqfusion_backend_info{", "backend=\"cpu\"", "device=", "} 1.0"), "backend info");
        assertTrue(has(m, "freqfusion_queue_capacity{", "model=\"small_c8\"", "} 64.0"), "capacity");
    }

    static boolean has(String metrics, String... parts) {
        return metrics.lines().anyMatch(l -> {
            for (String p : parts) if (!l.contains(p)) return false;
            return true;
        });
    }
}
