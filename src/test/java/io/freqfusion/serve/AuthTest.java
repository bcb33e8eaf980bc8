package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.freqfusion.serve.grpc.v2.GRPCInferenceServiceGrpc;
import io.freqfusion.serve.grpc.v2.ModelInferRequest;
import io.freqfusion.serve.grpc.v2.ModelMetadataRequest;
import io.freqfusion.serve.grpc.v2.ServerLiveRequest;
import io.freqfusion.serve.grpc.v2.ServerReadyRequest;
import io.freqfusion.tensor.SafeTensors;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bearer-token authentication (REST and gRPC), open health and metrics, request ids echoed on both protocols. */
@QuarkusTest
@TestProfile(Profiles.Auth.class)
class AuthTest {
    static final String BEARER = "Bearer " + Profiles.Auth.TOKEN;
    static ManagedChannel channel;

    @BeforeAll
    static void connect() {
        channel = OipTestClient.grpcChannel();
    }

    @AfterAll
    static void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    static void awaitLoaded() throws InterruptedException {
        OipTestClient.await("small_c8 loaded", 60_000,
                () -> "READY".equals(given().header("Authorization", BEARER).get("/v2/models/small_c8").then().extract().path("state")));
    }

    @Test
    void restNeedsTheTokenExceptHealthAndMetrics() throws Exception {
        awaitLoaded();
        SafeTensors.Contents c = Golden.read("small_c8");
        String body = OipTestClient.jsonRequest(null, Golden.inputs(c), null).toString();
        Response r = given().contentType("application/json").body(body).post("/v2/models/small_c8/infer");
        assertEquals(401, r.statusCode());
        assertEquals("Bearer realm=\"freqfusion\"", r.getHeader("WWW-Authenticate"));
        assertTrue(r.<String>path("error").contains("authentication required"), r.asString());
        r = given().header("Authorization", "Bearer wrong").contentType("application/json").body(body).post("/v2/models/small_c8/infer");
        assertEquals(401, r.statusCode());
        assertTrue(r.<String>path("error").contains("invalid bearer token"), r.asString());
        given().header("Authorization", "Basic " + Profiles.Auth.TOKEN).get("/v2/models/small_c8").then().statusCode(401);
        given().get("/v2").then().statusCode(401);
        given().get("/v2/models/small_c8").then().statusCode(401);

        r = given().header("Authorization", BEARER).contentType("application/json").body(body).post("/v2/models/small_c8/infer");
        assertEquals(200, r.statusCode(), r.asString());
        OipRestTest.assertGolden("small_c8 with auth", c, OipTestClient.outputs(r), null);
        given().header("Authorization", "bearer  " + Profiles.Auth.TOKEN + " ").get("/v2").then().statusCode(200);

        // open: OIP and Quarkus health, metrics (probes and scrapers carry no token)
        given().get("/v2/health/live").then().statusCode(200);
        given().get("/v2/health/ready").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(200);
        given().get("/q/metrics").then().statusCode(200).body(containsString("freqfusion_inflight_bytes"));
    }

    @Test
    void requestIdIsEchoedOrGenerated() throws Exception {
        awaitLoaded();
        Response r = given().header("Authorization", BEARER).header("X-Request-Id", "client-42").get("/v2/models/small_c8");
        assertEquals("client-42", r.getHeader("X-Request-Id"));
        r = given().get("/v2/health/live");
        String generated = r.getHeader("X-Request-Id");
        assertNotNull(generated);
        assertTrue(generated.matches("[0-9a-f]{24}"), generated);
        assertNotEquals(generated, given().get("/v2/health/live").getHeader("X-Request-Id"));
        // a hostile id (header injection, huge) is replaced
        r = given().header("X-Request-Id", "a b\u00e9" + "x".repeat(300)).get("/v2/health/live");
        assertTrue(r.getHeader("X-Request-Id").matches("[0-9a-f]{24}"));
        // on errors too
        r = given().header("X-Request-Id", "err-1").get("/v2/models/small_c8");
        assertEquals(401, r.statusCode());
        assertEquals("err-1", r.getHeader("X-Request-Id"));
    }

    @Test
    void grpcNeedsTheTokenExceptLiveAndReady() throws Exception {
        awaitLoaded();
        var stub = GRPCInferenceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
        assertTrue(stub.serverLive(ServerLiveRequest.getDefaultInstance()).getLive());
        assertTrue(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady());
        StatusRuntimeException e = assertThrows(StatusRuntimeException.class,
                () -> stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("small_c8").build()));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());

        SafeTensors.Contents c = Golden.read("small_c8");
        ModelInferRequest req = OipGrpcTest.request("small_c8", Golden.inputs(c), true).build();
        e = assertThrows(StatusRuntimeException.class, () -> stub.modelInfer(req));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());
        Metadata bad = new Metadata();
        bad.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), "Bearer nope");
        e = assertThrows(StatusRuntimeException.class, () -> stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(bad)).modelInfer(req));
        assertEquals(Status.Code.UNAUTHENTICATED, e.getStatus().getCode());

        Metadata good = new Metadata();
        good.put(Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER), BEARER);
        good.put(Metadata.Key.of("x-request-id", Metadata.ASCII_STRING_MARSHALLER), "grpc-7");
        AtomicReference<Metadata> headers = new AtomicReference<>(), trailers = new AtomicReference<>();
        var authed = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(good), MetadataUtils.newCaptureMetadataInterceptor(headers, trailers));
        var resp = authed.modelInfer(req);
        assertEquals(3, resp.getOutputsCount());
        assertEquals("grpc-7", headers.get().get(Metadata.Key.of("x-request-id", Metadata.ASCII_STRING_MARSHALLER)));
    }
}
