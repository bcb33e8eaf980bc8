package io.freqfusion.serve;

import com.fasterxml.jackson.databind.node.ObjectNode;
import io.freqfusion.Golden;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.nullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** OIP v2 REST against models built from the golden files: metadata, health, golden results (JSON and binary), errors. */
@QuarkusTest
@TestProfile(Profiles.Golden.class)
class OipRestTest {
    static final String[] MODELS = {"small_c8", "opt_feature_resample", "batch2", "nonsquare", "fpn_add_c16", "odd_lr"};

    @BeforeEach
    void loaded() {
        OipTestClient.awaitLoaded(MODELS);
    }

    static void assertGolden(String what, SafeTensors.Contents c, Map<String, Tensor> got, List<String> only) {
        Map<String, Tensor> want = Golden.outputs(c);
        int compared = 0;
        for (var e : want.entrySet()) {
            if (only != null && !only.contains(e.getKey())) continue;
            Tensor g = got.get(e.getKey());
            assertNotNull(g, what + ": output " + e.getKey() + " missing (got " + got.keySet() + ")");
            Golden.assertClose(what + " " + e.getKey(), e.getValue(), g);
            compared++;
        }
        assertTrue(compared >= 1, what + ": nothing compared");
    }

    @Test
    void serverMetadataAndHealth() {
        given().get("/v2").then().statusCode(200).body("name", equalTo("freqfusion-serve"))
                .body("extensions", hasItem("binary_tensor_data"));
        given().get("/v2/health/live").then().statusCode(200).body("live", equalTo(true));
        given().get("/v2/health/ready").then().statusCode(200).body("ready", equalTo(true));
    }

    @Test
    void modelMetadata() {
        given().get("/v2/models/small_c8").then().statusCode(200)
                .body("name", equalTo("small_c8")).body("versions", contains("1")).body("platform", equalTo("freqfusion_java"))
                .body("inputs.name", contains("hr_feat", "lr_feat"))
                .body("inputs[0].datatype", equalTo("FP32"))
                .body("inputs[0].shape", contains(-1, 8, -1, -1))
                .body("outputs.name", contains("mask", "hr_feat", "lr_feat"))
                .body("outputs[0].shape", contains(-1, 25, -1, -1))
                .body("state", equalTo("READY")).body("max_batch_size", equalTo(4));
        given().get("/v2/models/small_c8/versions/1").then().statusCode(200).body("name", equalTo("small_c8"));
        given().get("/v2/models/fpn_add_c16").then().statusCode(200)
                .body("inputs.name", contains("x1", "x2", "x3", "x4"))
                .body("inputs[3].shape", contains(-1, 16, -1, -1))
                .body("outputs.name", hasItem("y1")).body("outputs.name", hasItem("ff3.mask"));
        given().get("/v2/models/nope").then().statusCode(404).body("error", containsString("unknown model 'nope'"));
        given().get("/v2/models/small_c8/versions/2").then().statusCode(404).body("error", containsString("no version '2'"));
    }

    @Test
    void modelReady() {
        given().get("/v2/models/small_c8/ready").then().statusCode(200).body("ready", equalTo(true));
        given().get("/v2/models/small_c8/versions/1/ready").then().statusCode(200);
        given().get("/v2/models/nope/ready").then().statusCode(404);
    }

    @ParameterizedTest
    @ValueSource(strings = {"small_c8", "opt_feature_resample", "batch2", "nonsquare", "fpn_add_c16", "odd_lr"})
    void goldenJson(String name) throws IOException {
        SafeTensors.Contents c = Golden.read(name);
        Response r = OipTestClient.postJson(name, OipTestClient.jsonRequest("req-" + name, Golden.inputs(c), null).toString());
        assertEquals(200, r.statusCode(), r.asString());
        assertTrue(r.contentType().startsWith("application/json"));
        assertEquals("req-" + name, r.path("id"));
        assertEquals(name, r.path("model_name"));
        assertEquals("1", r.path("model_version"));
        assertGolden(name + " (REST JSON)", c, OipTestClient.outputs(r), null);
    }

    @ParameterizedTest
    @ValueSource(strings = {"small_c8", "opt_feature_resample", "batch2", "nonsquare", "fpn_add_c16"})
    void goldenBinary(String name) throws IOException {
        SafeTensors.Contents c = Golden.read(name);
        Object[] req = OipTestClient.binaryRequest(Golden.inputs(c), "FP32", true);
        Response r = OipTestClient.postBinary(name, (Integer) req[0], (byte[]) req[1]);
        assertEquals(200, r.statusCode(), r.asString());
        assertTrue(r.contentType().startsWith("application/octet-stream"), r.contentType());
        assertNotNull(r.getHeader("Inference-Header-Content-Length"));
        assertGolden(name + " (REST binary)", c, OipTestClient.outputs(r), null);
    }

    @Test
    void binaryInputJsonOutput() throws IOException {
        SafeTensors.Contents c = Golden.read("small_c8");
        Object[] req = OipTestClient.binaryRequest(Golden.inputs(c), "FP32", false);
        Response r = OipTestClient.postBinary("small_c8", (Integer) req[0], (byte[]) req[1]);
        assertEquals(200, r.statusCode(), r.asString());
        assertNull(r.getHeader("Inference-Header-Content-Length"));
        assertGolden("small_c8 (binary in, JSON out)", c, OipTestClient.outputs(r), null);
    }

    @ParameterizedTest
    @ValueSource(strings = {"FP16", "BF16"})
    void halfPrecisionInputsAreConverted(String dtype) throws IOException {
        SafeTensors.Contents c = Golden.read("small_c8");
        Map<String, Tensor> rounded = new LinkedHashMap<>();
        Golden.inputs(c).forEach((k, v) -> rounded.put(k, OipTestClient.rounded(v, dtype)));
        Response ref = OipTestClient.postJson("small_c8", OipTestClient.jsonRequest(null, rounded, null).toString());
        assertEquals(200, ref.statusCode(), ref.asString());
        Object[] req = OipTestClient.binaryRequest(Golden.inputs(c), dtype, true);
        Response r = OipTestClient.postBinary("small_c8", (Integer) req[0], (byte[]) req[1]);
        assertEquals(200, r.statusCode(), r.asString());
        Map<String, Tensor> want = OipTestClient.outputs(ref), got = OipTestClient.outputs(r);
        for (var e : want.entrySet()) Golden.assertClose(dtype + " " + e.getKey(), e.getValue(), got.get(e.getKey()));
    }

    @Test
    void nestedDataArraysAreAccepted() throws IOException {
        SafeTensors.Contents c = Golden.read("small_c8");
        StringBuilder sb = new StringBuilder("{\"inputs\":[");
        boolean first = true;
        for (var e : Golden.inputs(c).entrySet()) {
            Tensor t = e.getValue();
            if (!first) sb.append(',');
            first = false;
            sb.append("{\"name\":\"").append(e.getKey()).append("\",\"datatype\":\"FP32\",\"shape\":[1,").append(t.dim(1)).append(',')
                    .append(t.dim(2)).append(',').append(t.dim(3)).append("],\"data\":[");
            float[] d = t.data();
            int i = 0;
            for (int ch = 0; ch < t.dim(1); ch++) {
                sb.append(ch == 0 ? "[" : ",[");
                for (int y = 0; y < t.dim(2); y++) {
                    sb.append(y == 0 ? "[" : ",[");
                    for (int x = 0; x < t.dim(3); x++) sb.append(x == 0 ? "" : ",").append(d[i++]);
                    sb.append(']');
                }
                sb.append(']');
            }
            sb.append("]}");
        }
        sb.append("]}");
        Response r = OipTestClient.postJson("small_c8", sb.toString());
        assertEquals(200, r.statusCode(), r.asString());
        assertGolden("small_c8 nested", c, OipTestClient.outputs(r), null);
    }

    @Test
    void outputSelectionAndMixedBinaryOutputs() throws IOException {
        SafeTensors.Contents c = Golden.read("small_c8");
        Response r = OipTestClient.postJson("small_c8", OipTestClient.jsonRequest("sel", Golden.inputs(c), List.of("lr_feat")).toString());
        assertEquals(200, r.statusCode(), r.asString());
        Map<String, Tensor> got = OipTestClient.outputs(r);
        assertEquals(List.of("lr_feat"), List.copyOf(got.keySet()));
        assertGolden("selected", c, got, List.of("lr_feat"));

        ObjectNode req = OipTestClient.jsonRequest("mixed", Golden.inputs(c), List.of("mask", "hr_feat"));
        ((ObjectNode) req.get("outputs").get(0)).putObject("parameters").put("binary_data", true);
        r = OipTestClient.postJson("small_c8", req.toString());
        assertEquals(200, r.statusCode(), r.asString());
        assertNotNull(r.getHeader("Inference-Header-Content-Length"));
        got = OipTestClient.outputs(r);
        assertEquals(List.of("mask", "hr_feat"), List.copyOf(got.keySet()));
        assertGolden("mixed", c, got, List.of("mask", "hr_feat"));
    }

    /**
     * A pyramid asked for some outputs: only those come back, each as in the golden file (the levels are made either
     * way; a stage output asked alone comes from a forward that skips the others).
     */
    @Test
    void pyramidOutputSelection() throws IOException {
        SafeTensors.Contents c = Golden.read("fpn_add_c16");
        for (List<String> ask : List.of(List.of("y1", "y2"), List.of("ff2.hr_feat"), List.of("ff3.mask", "y3"))) {
            Response r = OipTestClient.postJson("fpn_add_c16", OipTestClient.jsonRequest("sel", Golden.inputs(c), ask).toString());
            assertEquals(200, r.statusCode(), r.asString());
            Map<String, Tensor> got = OipTestClient.outputs(r);
            assertEquals(ask, List.copyOf(got.keySet()));
            assertGolden("fpn_add_c16 asked " + ask, c, got, ask);
        }
    }

    @Test
    void versionedInferAndParametersAllowed() throws IOException {
        SafeTensors.Contents c = Golden.read("small_c8");
        ObjectNode req = OipTestClient.jsonRequest(null, Golden.inputs(c), null);
        req.putObject("parameters").put("priority", 1).put("content_type", "np");
        Response r = given().contentType("application/json").body(req.toString()).post("/v2/models/small_c8/versions/1/infer");
        assertEquals(200, r.statusCode(), r.asString());
        assertNull(r.path("id"));
        given().contentType("application/json").body(req.toString()).post("/v2/models/small_c8/versions/7/infer")
                .then().statusCode(404);
    }

    // ---- errors: 4xx with a message naming the tensor and the rule; the server keeps serving ----

    static String smallBody(String mutate) throws IOException {
        SafeTensors.Contents c = Golden.read("small_c8");
        ObjectNode req = OipTestClient.jsonRequest(null, Golden.inputs(c), null);
        return req.toString();
    }

    static void expect(String model, String body, int status, String... fragments) {
        Response r = OipTestClient.postJson(model, body);
        assertEquals(status, r.statusCode(), r.asString());
        assertTrue(r.contentType().startsWith("application/json"), r.contentType());
        String msg = r.path("error");
        assertNotNull(msg, r.asString());
        for (String f : fragments) assertTrue(msg.contains(f), "'" + msg + "' should mention '" + f + "'");
    }

    static String tensor(String name, String dtype, String shape, int count, String value) {
        StringBuilder sb = new StringBuilder("{\"name\":\"" + name + "\",\"datatype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data\":[");
        for (int i = 0; i < count; i++) sb.append(i == 0 ? "" : ",").append(value);
        return sb.append("]}").toString();
    }

    static String request(String... tensors) { return "{\"inputs\":[" + String.join(",", tensors) + "]}"; }

    static final String HR = tensor("hr_feat", "FP32", "[1,8,8,8]", 512, "0.5");
    static final String LR = tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "0.25");

    @Test
    void validRequestFromHelpers() {
        Response r = OipTestClient.postJson("small_c8", request(HR, LR));
        assertEquals(200, r.statusCode(), r.asString());
    }

    @Test
    void unknownModelIs404() {
        expect("nope", request(HR, LR), 404, "unknown model 'nope'");
    }

    @Test
    void missingAndUnexpectedInputs() {
        expect("small_c8", request(HR), 400, "missing input 'lr_feat'");
        expect("small_c8", request(HR, LR, tensor("extra", "FP32", "[1]", 1, "0")), 400, "unexpected input 'extra'");
        expect("small_c8", request(HR, HR, LR), 400, "'hr_feat'", "more than once");
        expect("small_c8", "{\"inputs\":[]}", 400, "no 'inputs'");
    }

    @Test
    void wrongDatatypeRankShapeChannelsCount() {
        expect("small_c8", request(tensor("hr_feat", "INT32", "[1,8,8,8]", 512, "1"), LR), 400, "'hr_feat'", "datatype 'INT32'");
        expect("small_c8", request(tensor("hr_feat", "FP32", "[8,8,8]", 512, "1"), LR), 400, "'hr_feat'", "rank 3");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,3,3]", 72, "1")), 400, "hr_feat", "lr_feat", "twice");
        expect("small_c8", request(tensor("hr_feat", "FP32", "[1,4,8,8]", 256, "1"), LR), 400, "hr_feat", "8 channels");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 100, "1")), 400, "'lr_feat'", "needs 128 elements", "100");
        expect("small_c8", request(tensor("hr_feat", "FP32", "[2,8,8,8]", 1024, "1"), LR), 400, "same batch size");
        expect("small_c8", request(tensor("hr_feat", "FP32", "[5,8,8,8]", 2560, "1"), tensor("lr_feat", "FP32", "[5,8,4,4]", 640, "1")),
                400, "'hr_feat'", "max_batch_size 4");
        expect("small_c8", request(tensor("hr_feat", "FP32", "[1,8,0,8]", 0, "1"), LR), 400, "'hr_feat'", "dimension < 1");
    }

    @Test
    void nonFiniteAndNonNumericValues() {
        expect("small_c8", request(tensor("hr_feat", "FP32", "[1,8,8,8]", 512, "1e39"), LR), 400, "'hr_feat'", "finite");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "\"x\"")), 400, "'lr_feat'", "numbers");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "NaN")), 400, "malformed JSON");
    }

    @Test
    void malformedJson() {
        expect("small_c8", "{\"inputs\": [", 400, "malformed JSON");
        expect("small_c8", "not json", 400, "malformed JSON");
        expect("small_c8", "[1,2]", 400, "JSON object");
        expect("small_c8", request(HR, LR) + "{}", 400, "after the request");
        expect("small_c8", "", 400, "empty");
    }

    @Test
    void unknownOutput() {
        String body = "{\"inputs\":[" + HR + "," + LR + "],\"outputs\":[{\"name\":\"y7\"}]}";
        expect("small_c8", body, 400, "unknown output 'y7'");
    }

    @Test
    void binaryFramingErrors() throws IOException {
        SafeTensors.Contents c = Golden.read("small_c8");
        Object[] req = OipTestClient.binaryRequest(Golden.inputs(c), "FP32", false);
        int h = (Integer) req[0];
        byte[] body = (byte[]) req[1];
        // header length beyond the body
        Response r = OipTestClient.postBinary("small_c8", body.length + 10, body);
        assertEquals(400, r.statusCode());
        assertTrue(r.<String>path("error").contains("Inference-Header-Content-Length"), r.asString());
        // truncated binary section
        r = OipTestClient.postBinary("small_c8", h, java.util.Arrays.copyOf(body, body.length - 4));
        assertEquals(400, r.statusCode());
        assertTrue(r.<String>path("error").contains("binary_data_size"), r.asString());
        // extra bytes after the binary section
        r = OipTestClient.postBinary("small_c8", h, java.util.Arrays.copyOf(body, body.length + 8));
        assertEquals(400, r.statusCode());
        assertTrue(r.<String>path("error").contains("beyond"), r.asString());
        // binary_data_size inconsistent with the shape (both sizes consistent with the body)
        String header = new String(body, 0, h, StandardCharsets.UTF_8).replace("\"shape\":[1,8,8,8]", "\"shape\":[1,8,8,4]");
        byte[] hb = header.getBytes(StandardCharsets.UTF_8);
        byte[] nb = new byte[hb.length + body.length - h];
        System.arraycopy(hb, 0, nb, 0, hb.length);
        System.arraycopy(body, h, nb, hb.length, body.length - h);
        r = OipTestClient.postBinary("small_c8", hb.length, nb);
        assertEquals(400, r.statusCode());
        assertTrue(r.<String>path("error").contains("'hr_feat'") && r.<String>path("error").contains("bytes"), r.asString());
        // binary_data_size without the header
        r = given().contentType("application/octet-stream").body(body).post("/v2/models/small_c8/infer");
        assertEquals(400, r.statusCode());
        // non-numeric header
        r = given().contentType("application/octet-stream").header("Inference-Header-Content-Length", "abc").body(body).post("/v2/models/small_c8/infer");
        assertEquals(400, r.statusCode());
        // NaN in binary data
        Map<String, Tensor> in = new LinkedHashMap<>(Golden.inputs(c));
        float[] d = in.get("lr_feat").data().clone();
        d[5] = Float.NaN;
        in.put("lr_feat", new Tensor(in.get("lr_feat").shape(), d));
        req = OipTestClient.binaryRequest(in, "FP32", false);
        r = OipTestClient.postBinary("small_c8", (Integer) req[0], (byte[]) req[1]);
        assertEquals(400, r.statusCode());
        assertTrue(r.<String>path("error").contains("'lr_feat': element 5 is NaN"), r.asString());
        // and the server still serves
        assertEquals(200, OipTestClient.postJson("small_c8", request(HR, LR)).statusCode());
    }

    @Test
    void pyramidShapeErrorsNameTheStage() {
        String x1 = tensor("x1", "FP32", "[1,16,32,32]", 16 * 32 * 32, "0.1");
        String x2 = tensor("x2", "FP32", "[1,16,16,16]", 16 * 16 * 16, "0.1");
        String x3 = tensor("x3", "FP32", "[1,16,8,8]", 16 * 8 * 8, "0.1");
        String x4bad = tensor("x4", "FP32", "[1,16,3,3]", 16 * 9, "0.1");
        expect("fpn_add_c16", request(x1, x2, x3, x4bad), 400, "ff1", "x3", "x4");
        assertEquals(200, OipTestClient.postJson("fpn_add_c16", request(x1, x2, x3, tensor("x4", "FP32", "[1,16,4,4]", 256, "0.1"))).statusCode());
    }

    @Test
    void openApiAndSwagger() {
        given().get("/q/openapi").then().statusCode(200).body(containsString("/v2/models/{model}/infer"));
        given().get("/q/swagger-ui/").then().statusCode(200);
        given().get("/v2/models/small_c8").then().body("reason", nullValue());
    }
}
