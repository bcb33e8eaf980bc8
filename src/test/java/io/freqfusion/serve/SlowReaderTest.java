package io.freqfusion.serve;

import io.freqfusion.serve.admission.MemoryBudget;
import io.freqfusion.serve.repository.ServedModel;
import io.freqfusion.tensor.Tensor;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.net.Socket;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client that sends a request and stops reading once the (streamed, 24 MiB) response has begun: the response holds
 * its admission budget while it waits on the client, and the HTTP idle timeout (2 s here) closes the connection and
 * releases it; the service keeps serving.
 */
@QuarkusTest
@TestProfile(Profiles.SlowReader.class)
class SlowReaderTest {
    @TestHTTPResource("/v2/models/small_c8/infer")
    URL infer;
    @Inject
    MemoryBudget budget;
    @Inject
    InferenceService service;

    @Test
    void aClientThatStopsReadingIsCutOffAndItsBudgetReleased() throws Exception {
        OipTestClient.awaitLoaded("small_c8");
        Random r = new Random(3);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("hr_feat", RestTransportTest.random(r, 1, 8, 512, 512));
        in.put("lr_feat", RestTransportTest.random(r, 1, 8, 256, 256));
        Object[] req = OipTestClient.binaryRequest(in, "FP32", true);
        warmForward(in);
        // the same request read in full first, which warms the transport too
        try (HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            for (int attempt = 1; ; attempt++) {
                try {
                    assertEquals(200, client.send(post(req), HttpResponse.BodyHandlers.discarding()).statusCode());
                    break;
                } catch (java.io.IOException e) {
                    if (attempt == 3) throw e;
                }
            }
        }
        try (Socket s = OipTestClient.sendRaw(infer, req)) {
            s.setSoTimeout(30_000);
            // the response begins (the forward is done) and then cannot finish: nobody reads on
            String head = OipTestClient.readHead(s.getInputStream());
            assertTrue(head.startsWith("HTTP/1.1 200"), head);
            assertTrue(budget.used() > 0, "the pending response holds admission budget");
            OipTestClient.await("the budget released", 20_000, () -> budget.used() == 0);
            assertEquals(0, budget.used(), "released once the idle timeout closed the connection");
        }
        // and the service answers the next request (on a new connection: the test client's pooled ones have been
        // idle for longer than the timeout and are closed)
        Map<String, Tensor> smallIn = new LinkedHashMap<>();
        smallIn.put("hr_feat", RestTransportTest.random(r, 1, 8, 16, 16));
        smallIn.put("lr_feat", RestTransportTest.random(r, 1, 8, 8, 8));
        try (HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            assertEquals(200, client.send(post(OipTestClient.binaryRequest(smallIn, "FP32", true)), HttpResponse.BodyHandlers.discarding()).statusCode());
        }
    }

    /**
     * Runs this request's forward through the service (no HTTP, so no idle timeout) until one takes under a quarter of
     * the 2 s idle timeout: on a loaded machine the first 512x512 forwards, JIT still compiling, outlasted the timeout
     * three times in a row, and each connection was cut before its response began (the test failed in a full suite
     * run and passed alone). Gives up after two minutes and lets the HTTP attempts below decide.
     */
    private void warmForward(Map<String, Tensor> in) throws Exception {
        ServedModel model = service.resolve("small_c8", null);
        List<InferenceService.InputTensor> inputs = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : in.entrySet()) {
            long[] shape = Arrays.stream(e.getValue().shape()).asLongStream().toArray();
            inputs.add(new InferenceService.InputTensor(e.getKey(), "FP32", shape, e.getValue().data(), null));
        }
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (System.nanoTime() < deadline) {
            long t0 = System.nanoTime();
            service.submit(model, service.prepare(model, inputs, null), Duration.ofMinutes(1)).get();
            if (System.nanoTime() - t0 < Duration.ofMillis(500).toNanos()) return;
        }
    }

    private HttpRequest post(Object[] binaryRequest) throws Exception {
        return HttpRequest.newBuilder(infer.toURI()).header("Content-Type", "application/octet-stream")
                .header("Inference-Header-Content-Length", binaryRequest[0].toString())
                .POST(HttpRequest.BodyPublishers.ofByteArray((byte[]) binaryRequest[1])).build();
    }
}
