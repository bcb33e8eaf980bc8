package io.freqfusion.serve;

import io.freqfusion.serve.admission.MemoryBudget;
import io.freqfusion.tensor.Tensor;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.io.OutputStream;
import java.net.Socket;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client that sends a request and never reads the (streamed, 24 MiB) response: the response holds its admission
 * budget while it waits on the client, and the HTTP idle timeout (2 s here) closes the connection and releases it;
 * the service keeps serving.
 */
@QuarkusTest
@TestProfile(Profiles.SlowReader.class)
class SlowReaderTest {
    @TestHTTPResource("/v2/models/small_c8/infer")
    URL infer;
    @Inject
    MemoryBudget budget;

    @Test
    void aClientThatStopsReadingIsCutOffAndItsBudgetReleased() throws Exception {
        OipTestClient.awaitLoaded("small_c8");
        Random r = new Random(3);
        Map<String, Tensor> in = new LinkedHashMap<>();
        in.put("hr_feat", RestTransportTest.random(r, 1, 8, 512, 512));
        in.put("lr_feat", RestTransportTest.random(r, 1, 8, 256, 256));
        Object[] req = OipTestClient.binaryRequest(in, "FP32", true);
        byte[] body = (byte[]) req[1];
        try (Socket s = new Socket(infer.getHost(), infer.getPort())) {
            s.setReceiveBufferSize(16 * 1024);
            OutputStream out = s.getOutputStream();
            out.write(("POST " + infer.getPath() + " HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/octet-stream\r\n"
                    + "Inference-Header-Content-Length: " + req[0] + "\r\nContent-Length: " + body.length + "\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII));
            out.write(body);
            out.flush();
            // the forward runs and the response starts; it cannot finish while nobody reads it
            long deadline = System.nanoTime() + 20_000_000_000L;
            boolean held = false;
            while (System.nanoTime() < deadline) {
                if (budget.used() > 0) held = true;
                else if (held) break;
                Thread.sleep(50);
            }
            assertTrue(held, "the request held admission budget while its response was pending");
            assertEquals(0, budget.used(), "released once the idle timeout closed the connection");
        }
        // and the service answers the next request (on a new connection: the test client's pooled ones have been
        // idle for longer than the 2 s timeout and are closed)
        Map<String, Tensor> smallIn = new LinkedHashMap<>();
        smallIn.put("hr_feat", RestTransportTest.random(r, 1, 8, 16, 16));
        smallIn.put("lr_feat", RestTransportTest.random(r, 1, 8, 8, 8));
        Object[] small = OipTestClient.binaryRequest(smallIn, "FP32", true);
        HttpRequest next = HttpRequest.newBuilder(infer.toURI()).header("Content-Type", "application/octet-stream")
                .header("Inference-Header-Content-Length", small[0].toString())
                .POST(HttpRequest.BodyPublishers.ofByteArray((byte[]) small[1])).build();
        try (HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            assertEquals(200, client.send(next, HttpResponse.BodyHandlers.discarding()).statusCode());
        }
    }
}
