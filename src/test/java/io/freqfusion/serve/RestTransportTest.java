package io.freqfusion.serve;

import io.freqfusion.Golden;
import io.freqfusion.backend.Backends;
import io.freqfusion.model.FusionModel;
import io.freqfusion.model.ModelLoader;
import io.freqfusion.runtime.FusionRunner;
import io.freqfusion.tensor.Tensor;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The REST transport with bodies of megabytes: the request body as the gate reads it (declared length, chunked,
 * {@code Expect: 100-continue}) and the response streamed with its Content-Length, checked value for value against the
 * same model run in-process.
 */
@QuarkusTest
@TestProfile(Profiles.Golden.class)
class RestTransportTest {
    /** 8 channels at 256 x 256: a 2 MiB hr_feat in, and three outputs of 2 MiB each out (several network buffers). */
    static final int C = 8, H = 256;
    static Map<String, Tensor> inputs;
    static Map<String, Tensor> expected;
    static byte[] body;
    static int headerLength;

    @TestHTTPResource("/v2/models/small_c8/infer")
    URL infer;

    @BeforeAll
    static void expectedFromTheCore() {
        Random r = new Random(7);
        inputs = new LinkedHashMap<>();
        inputs.put("hr_feat", random(r, 1, C, H, H));
        inputs.put("lr_feat", random(r, 1, C, H / 2, H / 2));
        FusionModel model = ModelLoader.load(Golden.readUnchecked("small_c8"), "param.", Map.of());
        try (FusionRunner runner = new FusionRunner(model, Backends.create("cpu", Map.of("threads", "2")))) {
            expected = runner.run(inputs, null);
        }
        Object[] req = OipTestClient.binaryRequest(inputs, "FP32", true);
        headerLength = (Integer) req[0];
        body = (byte[]) req[1];
    }

    static Tensor random(Random r, int... shape) {
        float[] d = new float[(int) Tensor.numel(shape)];
        for (int i = 0; i < d.length; i++) d[i] = (float) r.nextGaussian();
        return new Tensor(shape, d);
    }

    @BeforeEach
    void loaded() {
        OipTestClient.awaitLoaded("small_c8");
    }

    @Test
    void largeBinaryBodyWithContentLength() throws Exception {
        HttpResponse<byte[]> r = send(HttpRequest.BodyPublishers.ofByteArray(body));
        assertExact(r);
    }

    @Test
    void chunkedRequestBody() throws Exception {
        // a stream of unknown length is sent with Transfer-Encoding: chunked (no Content-Length)
        HttpResponse<byte[]> r = send(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body)));
        assertExact(r);
    }

    @Test
    void expectContinueIsAnswered() throws IOException {
        try (Socket s = new Socket(infer.getHost(), infer.getPort())) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            out.write(OipTestClient.rawHead(infer, headerLength, body.length, "Expect: 100-continue\r\nConnection: close\r\n"));
            out.flush();
            String interim = OipTestClient.readHead(in);
            assertTrue(interim.startsWith("HTTP/1.1 100"), interim);
            out.write(body);
            out.flush();
            String head = OipTestClient.readHead(in);
            assertTrue(head.startsWith("HTTP/1.1 200"), head);
            long length = Long.parseLong(header(head, "content-length"));
            byte[] rest = in.readAllBytes();
            assertEquals(length, rest.length, "Content-Length against the bytes sent");
            assertOutputs(rest, Integer.parseInt(header(head, "inference-header-content-length")));
        }
    }

    private HttpResponse<byte[]> send(HttpRequest.BodyPublisher publisher) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(infer.toString())).version(HttpClient.Version.HTTP_1_1)
                .header("Content-Type", "application/octet-stream").header("Inference-Header-Content-Length", Integer.toString(headerLength))
                .POST(publisher).build();
        try (HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build()) {
            return client.send(req, HttpResponse.BodyHandlers.ofByteArray());
        }
    }

    private static void assertExact(HttpResponse<byte[]> r) {
        assertEquals(200, r.statusCode(), () -> new String(r.body(), 0, Math.min(300, r.body().length), StandardCharsets.UTF_8));
        // a length, not chunked: clients can size their buffers, and a truncated body is detected
        assertEquals(Long.toString(r.body().length), r.headers().firstValue("Content-Length").orElse(null));
        assertFalse(r.headers().firstValue("Transfer-Encoding").isPresent(), "no chunked transfer encoding");
        assertOutputs(r.body(), Integer.parseInt(r.headers().firstValue("Inference-Header-Content-Length").orElseThrow()));
    }

    /** Every output value equals the in-process run (same weights, same CPU kernels): bit for bit. */
    private static void assertOutputs(byte[] response, int jsonLength) {
        String json = new String(response, 0, jsonLength, StandardCharsets.UTF_8);
        int offset = jsonLength, compared = 0;
        for (String name : new String[] {"mask", "hr_feat", "lr_feat"}) {
            assertTrue(json.contains("\"name\":\"" + name + "\""), json);
        }
        // the header lists the outputs in the model's order, each followed by its binary section in that order
        int from = 0;
        while (true) {
            int at = json.indexOf("\"name\":\"", from);
            if (at < 0) break;
            int end = json.indexOf('"', at + 8);
            String name = json.substring(at + 8, end);
            float[] want = expected.get(name).data();
            float[] got = new float[want.length];
            ByteBuffer.wrap(response, offset, 4 * want.length).slice().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(got);
            assertArrayEquals(want, got, name);
            offset += 4 * want.length;
            compared++;
            from = end;
        }
        assertEquals(3, compared);
        assertEquals(response.length, offset, "the binary sections fill the body");
    }


    private static String header(String head, String name) {
        for (String line : head.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().equalsIgnoreCase(name)) return line.substring(colon + 1).trim();
        }
        throw new AssertionError("no " + name + " in " + head);
    }
}
