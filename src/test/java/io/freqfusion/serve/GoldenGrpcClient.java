package io.freqfusion.serve;

import io.freqfusion.serve.grpc.v2.GRPCInferenceServiceGrpc;
import io.grpc.ManagedChannel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

import java.util.concurrent.TimeUnit;

/**
 * The gRPC client side of the service tests that run on the golden models: one plain grpc-java channel and blocking
 * stub per test class, and every test starts once the models have loaded.
 */
abstract class GoldenGrpcClient {
    static ManagedChannel channel;
    static GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub;

    @BeforeAll
    static void connect() {
        channel = OipTestClient.grpcChannel();
        stub = GRPCInferenceServiceGrpc.newBlockingStub(channel);
    }

    @AfterAll
    static void close() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }

    @BeforeEach
    void loaded() {
        OipTestClient.awaitLoaded(OipRestTest.MODELS);
    }
}
