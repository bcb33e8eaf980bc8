package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.freqfusion.serve.admission.MemoryBudget;
import io.freqfusion.serve.grpc.v2.GRPCInferenceServiceGrpc;
import io.freqfusion.serve.grpc.v2.ModelInferResponse;
import io.freqfusion.serve.rest.OipResource;
import io.freqfusion.tensor.SafeTensors;
import io.freqfusion.tensor.Tensor;
import io.grpc.Context;
import io.grpc.ManagedChannel;
import io.grpc.stub.StreamObserver;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.net.Socket;
import java.net.URL;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Clients that go away before their answer (REST connection closed, gRPC call cancelled): a request still queued is
 * cancelled and never computed; one whose forward is under way keeps its admission budget until the forward ends (its
 * tensors are in memory whatever became of the client); each is counted with outcome "cancelled"; the budget returns
 * to zero and the service keeps serving. The forward is held at will by the test-only "faulty" backend.
 */
@QuarkusTest
@TestProfile(Profiles.Faulty.class)
class ClientGoneTest {
    @Inject
    MemoryBudget budget;
    @Inject
    InferenceService service;
    @Inject
    OipResource resource;
    @TestHTTPResource("/v2/models/small_c8/infer")
    URL infer;

    @AfterEach
    void release() {
        CountDownLatch hold = FaultyBackendProvider.HOLD;
        FaultyBackendProvider.HOLD = null;
        if (hold != null) hold.countDown();
    }

    @Test
    void queuedRequestsOfGoneClientsAreSkippedAndARunningOneKeepsItsBudget() throws Exception {
        OipTestClient.awaitLoaded("small_c8");
        SafeTensors.Contents c = Golden.read("small_c8");
        Map<String, Tensor> in = Golden.inputs(c);
        Object[] rest = OipTestClient.binaryRequest(in, "FP32", true);
        assertEquals(200, OipTestClient.postBinary("small_c8", (Integer) rest[0], (byte[]) rest[1]).statusCode());
        await(() -> budget.used() == 0, "budget idle before the test");
        double cancelledBefore = cancelled("rest") + cancelled("grpc");

        CountDownLatch hold = new CountDownLatch(1);
        FaultyBackendProvider.HOLD = hold;
        int forwardsBefore = FaultyBackendProvider.FORWARDS.get();
        var batcher = service.resolve("small_c8", null).batcher();
        ManagedChannel channel = OipTestClient.grpcChannel();
        try (Socket running = OipTestClient.sendRaw(infer, rest)) {
            await(() -> FaultyBackendProvider.FORWARDS.get() == forwardsBefore + 1, "the first request's forward started");
            long runningHolds = budget.used();
            try (Socket queued = OipTestClient.sendRaw(infer, rest)) { // sent once the first runs: it would otherwise join its batch
                // and a gRPC call queued behind it, cancelled by its client
                Context.CancellableContext call = Context.current().withCancellation();
                call.run(() -> GRPCInferenceServiceGrpc.newStub(channel).modelInfer(OipGrpcTest.request("small_c8", in, true).build(),
                        new StreamObserver<ModelInferResponse>() {
                            public void onNext(ModelInferResponse r) {}
                            public void onError(Throwable t) {}
                            public void onCompleted() {}
                        }));
                await(() -> batcher.queueDepth() == 2, "the REST and gRPC requests queued behind the running forward");
                assertTrue(budget.used() > runningHolds);
                call.cancel(null);
                running.close();
                queued.close();
                await(() -> cancelled("rest") + cancelled("grpc") - cancelledBefore == 3, "three requests counted as cancelled");
                // the queued ones are dropped and return their reservations at once; the running forward still has
                // its request's tensors and keeps its reservation until it ends
                await(() -> batcher.queueDepth() == 0 && budget.used() == runningHolds, "the queued requests' reservations returned");
                Thread.sleep(200);
                assertEquals(runningHolds, budget.used(), "the running forward's reservation kept while it runs");
            }
            hold.countDown();
            await(() -> budget.used() == 0, "all reservations returned once the forward ended");
            assertEquals(forwardsBefore + 1, FaultyBackendProvider.FORWARDS.get(), "the cancelled queued requests were never computed");
            assertEquals(0, batcher.queueDepth());
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        assertEquals(200, OipTestClient.postBinary("small_c8", (Integer) rest[0], (byte[]) rest[1]).statusCode());
    }

    /**
     * A REST request that reaches the resource without HttpGate's ticket (called directly here, no routing context)
     * takes a ticket of its own; when the stage handed back is cancelled (what Quarkus does when the client goes away)
     * it is counted as cancelled, its queued job is dropped and never computed, and its reservation returns.
     */
    @Test
    void aCancelledRequestWithoutTheGatesTicketIsCountedAndDropped() throws Exception {
        OipTestClient.awaitLoaded("small_c8");
        Object[] rest = OipTestClient.binaryRequest(Golden.inputs(Golden.read("small_c8")), "FP32", true);
        await(() -> budget.used() == 0, "budget idle before the test");
        double cancelledBefore = cancelled("rest");

        CountDownLatch hold = new CountDownLatch(1);
        FaultyBackendProvider.HOLD = hold;
        int forwardsBefore = FaultyBackendProvider.FORWARDS.get();
        var batcher = service.resolve("small_c8", null).batcher();
        try (Socket running = OipTestClient.sendRaw(infer, rest)) {
            await(() -> FaultyBackendProvider.FORWARDS.get() == forwardsBefore + 1, "the first request's forward started");
            long runningHolds = budget.used();
            CompletableFuture<?> stage = resource.infer("small_c8", String.valueOf(rest[0]), null,
                    new ByteArrayInputStream((byte[]) rest[1])).toCompletableFuture();
            await(() -> batcher.queueDepth() == 1, "the direct request queued behind the running forward");
            assertTrue(budget.used() > runningHolds, "the direct request reserved its own budget");
            assertTrue(stage.cancel(true), "the stage was still pending");
            await(() -> cancelled("rest") - cancelledBefore == 1, "the direct request counted as cancelled");
            await(() -> batcher.queueDepth() == 0 && budget.used() == runningHolds, "its reservation returned, its job dropped");
            hold.countDown();
            await(() -> budget.used() == 0, "all reservations returned once the forward ended");
            assertEquals(forwardsBefore + 1, FaultyBackendProvider.FORWARDS.get(), "the cancelled request was never computed");
        }
    }

    /** freqfusion_requests_total for small_c8 with outcome "cancelled" on one protocol (0 when absent). */
    private static double cancelled(String protocol) {
        return given().get("/q/metrics").asString().lines()
                .filter(l -> l.startsWith("freqfusion_requests_total{") && l.contains("model=\"small_c8\"")
                        && l.contains("outcome=\"cancelled\"") && l.contains("protocol=\"" + protocol + "\""))
                .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1))).sum();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        OipTestClient.await(what, 20_000, condition);
    }
}
