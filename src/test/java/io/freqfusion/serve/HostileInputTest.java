package io.freqfusion.serve;

import com.google.protobuf.ByteString;
import io.freqfusion.Golden;
import io.freqfusion.serve.grpc.v2.ModelInferRequest;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static io.freqfusion.serve.OipRestTest.HR;
import static io.freqfusion.serve.OipRestTest.LR;
import static io.freqfusion.serve.OipRestTest.expect;
import static io.freqfusion.serve.OipRestTest.request;
import static io.freqfusion.serve.OipRestTest.tensor;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hostile requests (issue 7): each gets a 4xx / INVALID_ARGUMENT with a precise message, and the server stays healthy
 * (checked after every test: ready, and a valid request still gets the golden result).
 */
@QuarkusTest
@TestProfile(Profiles.Golden.class)
class HostileInputTest extends GoldenGrpcClient {
    @AfterEach
    void stillHealthy() throws Exception {
        given().get("/v2/health/ready").then().statusCode(200);
        given().get("/v2/health/live").then().statusCode(200);
        SafeTensors.Contents c = Golden.read("small_c8");
        Response r = OipTestClient.postJson("small_c8", OipTestClient.jsonRequest(null, Golden.inputs(c), null).toString());
        assertEquals(200, r.statusCode(), r.asString());
        OipRestTest.assertGolden("after hostile input", c, OipTestClient.outputs(r), null);
    }

    @Test
    void jsonSyntaxAttacks() {
        expect("small_c8", "{\"inputs\":[" + HR + "," + LR + "],\"inputs\":[]}", 400, "malformed JSON", "Duplicate field 'inputs'");
        expect("small_c8", request(HR.replace("\"datatype\":\"FP32\"", "\"datatype\":\"FP32\",\"datatype\":\"FP16\""), LR), 400, "Duplicate field");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "Infinity")), 400, "NaN and Infinity literals");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "-Infinity")), 400, "malformed JSON");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "NaN")), 400, "NaN and Infinity literals");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "-1e400")), 400, "'lr_feat'", "element 0 is -Infinity", "finite");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "1" + "0".repeat(400))), 400, "malformed JSON", "Number value length");
        expect("small_c8", "{\"x\":" + "[".repeat(5000) + "]".repeat(5000) + "," + request(HR, LR).substring(1), 400, "malformed JSON", "nesting depth");
        String deepData = tensor("lr_feat", "FP32", "[1,8,4,4]", 1, "[".repeat(20) + "1" + "]".repeat(20));
        expect("small_c8", request(HR, deepData), 400, "'lr_feat'", "nested deeper than 16");
        expect("small_c8", "{\"inputs\":[" + HR + "," + LR + "]", 400, "malformed JSON");
        expect("small_c8", "{\"inputs\":[" + HR + "," + LR + "]}\u0000", 400, "malformed JSON");
        expect("small_c8", "\uFEFF{\"inputs\": 1}", 400, "");
    }

    @Test
    void wrongTypes() {
        expect("small_c8", "{\"inputs\":{}}", 400, "'inputs' must be an array");
        expect("small_c8", "{\"inputs\":[1]}", 400, "inputs[0] must be an object");
        expect("small_c8", request(HR.replace("\"shape\":[1,8,8,8]", "\"shape\":\"1,8,8,8\""), LR), 400, "'hr_feat'", "shape must be an array of integers");
        expect("small_c8", request(HR.replace("\"shape\":[1,8,8,8]", "\"shape\":[1,8,8.5,8]"), LR), 400, "'hr_feat'", "shape must be an array of integers");
        expect("small_c8", request(HR.replace("\"datatype\":\"FP32\"", "\"datatype\":32"), LR), 400, "datatype must be a string");
        expect("small_c8", request(HR.replace("\"name\":\"hr_feat\"", "\"name\":7"), LR), 400, "inputs[0].name must be a string");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "true")), 400, "'lr_feat'", "found a boolean");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "\"secret\"")), 400, "'lr_feat'", "found a string");
        expect("small_c8", request(HR, tensor("lr_feat", "FP32", "[1,8,4,4]", 128, "{}")), 400, "'lr_feat'", "found an object");
        expect("small_c8", "{\"inputs\":[" + HR + "," + LR + "],\"outputs\":\"mask\"}", 400, "'outputs' must be an array");
        expect("small_c8", "{\"inputs\":[" + HR + "," + LR + "],\"parameters\":[]}", 400, "'parameters' must be an object");
        expect("small_c8", "{\"inputs\":[" + HR + "," + LR + "],\"parameters\":{\"binary_data_output\":\"yes\"}}", 400, "binary_data_output must be a boolean");
        String name300 = "n".repeat(300);
        expect("small_c8", request(HR.replace("\"name\":\"hr_feat\"", "\"name\":\"" + name300 + "\""), LR), 400, "longer than 256");
    }

    @Test
    void hugeAndNegativeNumbers() {
        expect("small_c8", request(HR.replace("[1,8,8,8]", "[1,8,99999999999999999999999,8]"), LR), 400, "'hr_feat'", "out of range");
        expect("small_c8", request(HR.replace("[1,8,8,8]", "[1,8,100000,8]"), LR), 413, "'hr_feat'", "spatial size", "max-spatial");
        expect("small_c8", request(HR.replace("[1,8,8,8]", "[4,8,4096,4096]"), LR), 413, "'hr_feat'", "max-tensor-elements");
        expect("small_c8", request(HR.replace("[1,8,8,8]", "[1,-8,8,8]"), LR), 400, "'hr_feat'", "dimension < 1");
        expect("small_c8", request(HR.replace("[1,8,8,8]", "[1,1,1,1,1,1,1,1,1,1]"), LR), 400, "more than 8 dimensions");
        expect("small_c8", request(HR.replace("[1,8,8,8]", "[9223372036854775807,9223372036854775807,8,8]"), LR), 400, "'hr_feat'", "max_batch_size");
        expect("small_c8", request(HR.replace("[1,8,8,8]", "[1,9223372036854775807,4096,4096]"), LR), 413, "'hr_feat'", "too many", "max-tensor-elements");
        expect("small_c8", request(HR.replace("[1,8,8,8]", "[]"), LR), 400, "'hr_feat'", "rank 0");
    }

    static Response postBinary(String header, byte[] body) {
        return given().contentType("application/octet-stream").header("Inference-Header-Content-Length", header).body(body).post("/v2/models/small_c8/infer");
    }

    static void expectBinary(String header, byte[] body, int status, String... fragments) {
        Response r = postBinary(header, body);
        assertEquals(status, r.statusCode(), r.asString());
        String msg = r.path("error");
        for (String f : fragments) assertTrue(msg.contains(f), "'" + msg + "' should mention '" + f + "'");
    }

    @Test
    void binaryFraming() throws Exception {
        SafeTensors.Contents c = Golden.read("small_c8");
        Object[] req = OipTestClient.binaryRequest(Golden.inputs(c), "FP32", false);
        int h = (Integer) req[0];
        byte[] body = (byte[]) req[1];
        String json = new String(body, 0, h, StandardCharsets.UTF_8);
        expectBinary("-5", body, 400, "Inference-Header-Content-Length -5", "inconsistent");
        expectBinary("0", body, 400, "Inference-Header-Content-Length 0");
        expectBinary(Long.toString(Long.MAX_VALUE), body, 400, "inconsistent with the body of " + body.length + " bytes");
        expectBinary("99999999999999999999", body, 400, "not an integer");
        expectBinary(Integer.toString(h - 3), body, 400, "malformed JSON");
        expectBinary(Integer.toString(h + 4), body, 400, "malformed JSON");
        // binary_data_size negative, huge, of the wrong type, twice, together with data
        String neg = json.replaceFirst("\"binary_data_size\":2048", "\"binary_data_size\":-2048");
        expectBinary(Integer.toString(neg.length()), with(neg, body, h), 400, "'hr_feat'", "binary_data_size -2048");
        String huge = json.replaceFirst("\"binary_data_size\":2048", "\"binary_data_size\":99999999999999999999999");
        expectBinary(Integer.toString(huge.length()), with(huge, body, h), 400, "'hr_feat'", "binary_data_size", "out of range");
        String str = json.replaceFirst("\"binary_data_size\":2048", "\"binary_data_size\":\"2048\"");
        expectBinary(Integer.toString(str.length()), with(str, body, h), 400, "binary_data_size must be an integer");
        String both = json.replaceFirst("\"binary_data_size\":2048}", "\"binary_data_size\":2048},\"data\":[1]");
        expectBinary(Integer.toString(both.length()), with(both, body, h), 400, "both 'data' and parameters.binary_data_size");
        // the sizes add up to more / less than the body
        expectBinary(Integer.toString(h), java.util.Arrays.copyOf(body, body.length - 1), 400, "binary_data_size", "exceeds");
        expectBinary(Integer.toString(h), java.util.Arrays.copyOf(body, body.length + 3), 400, "3 bytes beyond");
        // FP16 data sized for FP32
        String fp16 = json.replace("\"FP32\"", "\"FP16\"");
        expectBinary(Integer.toString(fp16.length()), with(fp16, body, h), 400, "needs 1024 bytes but the binary data has 2048");
    }

    static byte[] with(String header, byte[] body, int oldHeader) {
        byte[] hb = header.getBytes(StandardCharsets.UTF_8);
        byte[] nb = new byte[hb.length + body.length - oldHeader];
        System.arraycopy(hb, 0, nb, 0, hb.length);
        System.arraycopy(body, oldHeader, nb, hb.length, body.length - oldHeader);
        return nb;
    }

    @Test
    void modelNamesNeverReachTheFileSystem() {
        expect("a..b", request(HR, LR), 400, "invalid model name");
        expect("bad%20name", request(HR, LR), 400, "invalid model name");
        expect(".hidden", request(HR, LR), 400, "invalid model name");
        expect("x".repeat(200), request(HR, LR), 400, "invalid model name");
        Response r = given().urlEncodingEnabled(false).contentType("application/json").body(request(HR, LR))
                .post("/v2/models/..%2F..%2Fetc%2Fpasswd/infer");
        assertTrue(r.statusCode() == 400 || r.statusCode() == 404, r.statusCode() + " " + r.asString());
        // dot segments are resolved by the HTTP layer before routing: /v2/models/%2E%2E is /v2 (server metadata)
        given().urlEncodingEnabled(false).get("/v2/models/%2E%2E").then().body("name", org.hamcrest.Matchers.equalTo("freqfusion-serve"));
    }

    @Test
    void grpcHostileShapesAndSizes() throws Exception {
        SafeTensors.Contents c = Golden.read("small_c8");
        Map<String, Tensor> in = Golden.inputs(c);
        var s = stub.withDeadlineAfter(30, TimeUnit.SECONDS);
        ModelInferRequest.Builder b = OipGrpcTest.request("small_c8", in, true);
        b.getInputsBuilder(0).setShape(1, -8);
        StatusRuntimeException e = OipGrpcTest.assertStatus(Status.Code.INVALID_ARGUMENT, () -> s.modelInfer(b.build()));
        assertTrue(e.getStatus().getDescription().contains("dimension < 1"), e.getStatus().getDescription());
        ModelInferRequest.Builder b2 = OipGrpcTest.request("small_c8", in, true);
        b2.getInputsBuilder(0).clearShape().addShape(Long.MAX_VALUE).addShape(Long.MAX_VALUE).addShape(8).addShape(8);
        OipGrpcTest.assertStatus(Status.Code.INVALID_ARGUMENT, () -> s.modelInfer(b2.build()));
        ModelInferRequest.Builder b2b = OipGrpcTest.request("small_c8", in, true);
        b2b.getInputsBuilder(0).clearShape().addShape(1).addShape(Long.MAX_VALUE).addShape(8).addShape(8);
        OipGrpcTest.assertStatus(Status.Code.RESOURCE_EXHAUSTED, () -> s.modelInfer(b2b.build()));
        ModelInferRequest.Builder b3 = OipGrpcTest.request("small_c8", in, false);
        b3.getInputsBuilder(1).getContentsBuilder().addFp32Contents(1f);
        e = OipGrpcTest.assertStatus(Status.Code.INVALID_ARGUMENT, () -> s.modelInfer(b3.build()));
        assertTrue(e.getStatus().getDescription().contains("'lr_feat'"), e.getStatus().getDescription());
        ModelInferRequest.Builder b4 = OipGrpcTest.request("../../etc", in, true);
        e = OipGrpcTest.assertStatus(Status.Code.INVALID_ARGUMENT, () -> s.modelInfer(b4.build()));
        assertTrue(e.getStatus().getDescription().contains("invalid model name"));
        ModelInferRequest.Builder b5 = OipGrpcTest.request("small_c8", in, true);
        b5.setRawInputContents(1, ByteString.copyFrom(new byte[3]));
        OipGrpcTest.assertStatus(Status.Code.INVALID_ARGUMENT, () -> s.modelInfer(b5.build()));
        ModelInferRequest.Builder b6 = OipGrpcTest.request("small_c8", in, true);
        b6.getInputsBuilder(0).clearShape();
        OipGrpcTest.assertStatus(Status.Code.INVALID_ARGUMENT, () -> s.modelInfer(b6.build()));
    }
}
