package io.freqfusion.serve;

import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.contains;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Without a models-dir the built-in models are served, and the README's example request works. */
@QuarkusTest
@TestProfile(Profiles.BuiltIn.class)
class BuiltInModelsTest {

    @Test
    void builtInModels() throws Exception {
        OipTestClient.awaitLoaded("freqfusion", "freqfusion-fpn", "freqfusion-small");
        given().get("/v2/health/ready").then().statusCode(200);
        given().get("/v2/models/freqfusion").then().statusCode(200).body("inputs[0].shape", contains(-1, 256, -1, -1));
        given().get("/v2/models/freqfusion-fpn").then().statusCode(200).body("inputs.name", contains("x1", "x2", "x3", "x4"));
        given().get("/v2/models/freqfusion-small").then().statusCode(200).body("inputs[1].shape", contains(-1, 8, -1, -1));
        String example = Files.readString(Path.of("examples", "infer-small.json"));
        Response r = OipTestClient.postJson("freqfusion-small", example);
        assertEquals(200, r.statusCode(), r.asString());
        r.then().body("id", equalTo("example-1")).body("outputs[0].shape", contains(1, 8, 8, 8));
    }
}
